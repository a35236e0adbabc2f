-- A private channel's readers are its members and every account of a role
-- (storage ListChannelAccounts: role = ? OR id IN members), listed on each
-- edit of the channel: without this index that read scans every account.

-- +goose Up
CREATE INDEX users_role ON users (role);

-- +goose Down
DROP INDEX users_role;
