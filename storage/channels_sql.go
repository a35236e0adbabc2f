package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

var _ Channels = (*sqlChannels)(nil)

// sqlChannels implements Channels for both drivers (sql.go).
type sqlChannels struct{ *sqlDB }

// Channels.

const channelColumns = "c.id, c.user_id, c.type, c.name, c.description, c.is_private, c.data, c.meta, c.created_at, c.updated_at"

func scanChannel(row scanner, extra ...any) (*Channel, error) {
	var c Channel
	var data, meta string
	dest := append([]any{&c.ID, &c.UserID, &c.Type, &c.Name, &c.Description, &c.IsPrivate, &data, &meta, &c.CreatedAt, &c.UpdatedAt}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	c.Data, c.Meta = jsonOrEmpty(json.RawMessage(data)), jsonOrEmpty(json.RawMessage(meta))
	return &c, nil
}

func normalizeChannel(c *Channel) {
	if c.ID == "" {
		c.ID = uuid.NewString()
	}
	c.Data, c.Meta = jsonOrEmpty(c.Data), jsonOrEmpty(c.Meta)
	if c.CreatedAt == 0 {
		c.CreatedAt = time.Now().UnixNano()
	}
	if c.UpdatedAt == 0 {
		c.UpdatedAt = c.CreatedAt
	}
}

// dedupeMembers keeps one row per account (manager beats member), in
// first-seen order, with the defaults filled: role member, active, joined
// at joinedAt.
func dedupeMembers(members []ChannelMember, joinedAt int64) []ChannelMember {
	out := make([]ChannelMember, 0, len(members))
	at := make(map[string]int, len(members))
	for _, m := range members {
		if m.Role == "" {
			m.Role = MemberMember
		}
		if i, ok := at[m.UserID]; ok {
			if m.Role == MemberManager {
				out[i].Role = MemberManager
			}
			continue
		}
		if m.JoinedAt == 0 {
			m.JoinedAt = joinedAt
		}
		m.IsActive = true
		at[m.UserID] = len(out)
		out = append(out, m)
	}
	return out
}

// dmKey names a DM by its set of accounts: their sorted ids, deduplicated,
// joined with ",".
func dmKey(userIDs ...string) string {
	ids := slices.Clone(userIDs)
	slices.Sort(ids)
	return strings.Join(slices.Compact(ids), ",")
}

func (s *sqlChannels) insertMembers(ctx context.Context, tx *sql.Tx, channelID string, members []ChannelMember) error {
	query := s.q("INSERT INTO channel_member (channel_id, user_id, role, is_active, last_read_at, joined_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (channel_id, user_id) DO NOTHING")
	for _, m := range members {
		if _, err := tx.ExecContext(ctx, query, channelID, m.UserID, m.Role, m.IsActive, m.LastReadAt, m.JoinedAt); err != nil {
			return err
		}
	}
	return nil
}

func (s *sqlChannels) CreateChannel(ctx context.Context, c *Channel, members []ChannelMember) error {
	normalizeChannel(c)
	members = dedupeMembers(members, c.CreatedAt)
	var key any
	if c.Type == ChannelDM {
		ids := make([]string, len(members))
		for i, m := range members {
			ids[i] = m.UserID
		}
		key = dmKey(ids...)
	}
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q("INSERT INTO channel (id, user_id, type, name, description, is_private, data, meta, dm_key, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
			c.ID, c.UserID, c.Type, c.Name, c.Description, c.IsPrivate, string(c.Data), string(c.Meta), key, c.CreatedAt, c.UpdatedAt)
		if err != nil {
			return err
		}
		return s.insertMembers(ctx, tx, c.ID, members)
	})
	return s.err("create channel", err)
}

func (s *sqlChannels) GetChannel(ctx context.Context, id string) (*Channel, error) {
	c, err := scanChannel(s.r.QueryRowContext(ctx, s.q("SELECT "+channelColumns+" FROM channel c WHERE c.id = ?"), id))
	if err != nil {
		return nil, s.err("get channel", err)
	}
	return c, nil
}

func (s *sqlChannels) ListChannels(ctx context.Context, opt ListChannelsOptions) ([]ChannelListing, error) {
	// The channels come from the member's rows (channel_member_user) and,
	// with IncludePublic, the public ones (channel_public); only All reads
	// every channel. Both per-channel figures are an index range of that
	// channel's messages (message_channel_created), not a scan.
	args := []any{opt.UserID, opt.UserID}
	where := ""
	switch {
	case opt.All:
	case opt.IncludePublic:
		where = "WHERE c.id IN (SELECT channel_id FROM channel_member WHERE user_id = ? UNION SELECT id FROM channel WHERE type = '' AND is_private = FALSE)"
		args = append(args, opt.UserID)
	default:
		where = "WHERE c.id IN (SELECT channel_id FROM channel_member WHERE user_id = ?)"
		args = append(args, opt.UserID)
	}
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT `+channelColumns+`,
		m.user_id, m.role, m.is_active, m.last_read_at, m.joined_at,
		(SELECT count(*) FROM message x WHERE x.channel_id = c.id AND x.parent_id IS NULL
			AND x.created_at > COALESCE(m.last_read_at, 0) AND x.user_id <> ?),
		COALESCE((SELECT max(x.created_at) FROM message x WHERE x.channel_id = c.id), 0)
		FROM channel c LEFT JOIN channel_member m ON m.channel_id = c.id AND m.user_id = ?
		`+where+`
		ORDER BY c.created_at, c.id`), args...)
	if err != nil {
		return nil, s.err("list channels", err)
	}
	defer rows.Close()
	out := []ChannelListing{}
	for rows.Next() {
		var l ChannelListing
		var userID, role sql.NullString
		var active sql.NullBool
		var lastRead, joined sql.NullInt64
		c, err := scanChannel(rows, &userID, &role, &active, &lastRead, &joined, &l.UnreadCount, &l.LastMessageAt)
		if err != nil {
			return nil, s.err("list channels", err)
		}
		l.Channel = *c
		if userID.Valid {
			l.Member = &ChannelMember{ChannelID: c.ID, UserID: userID.String, Role: role.String,
				IsActive: active.Bool, LastReadAt: lastRead.Int64, JoinedAt: joined.Int64}
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, s.err("list channels", err)
	}
	return out, nil
}

func (s *sqlChannels) UpdateChannel(ctx context.Context, c *Channel) error {
	c.Data, c.Meta = jsonOrEmpty(c.Data), jsonOrEmpty(c.Meta)
	if c.UpdatedAt == 0 {
		c.UpdatedAt = time.Now().UnixNano()
	}
	return s.execOne(ctx, "update channel",
		"UPDATE channel SET name = ?, description = ?, is_private = ?, data = ?, meta = ?, updated_at = ? WHERE id = ?",
		c.Name, c.Description, c.IsPrivate, string(c.Data), string(c.Meta), c.UpdatedAt, c.ID)
}

func (s *sqlChannels) DeleteChannel(ctx context.Context, id string) error {
	// Members, messages (replies included) and reactions go by ON DELETE
	// CASCADE, in this statement's transaction.
	return s.execOne(ctx, "delete channel", "DELETE FROM channel WHERE id = ?", id)
}

// Members.

const memberColumns = "channel_id, user_id, role, is_active, last_read_at, joined_at"

func scanMember(row scanner) (*ChannelMember, error) {
	var m ChannelMember
	if err := row.Scan(&m.ChannelID, &m.UserID, &m.Role, &m.IsActive, &m.LastReadAt, &m.JoinedAt); err != nil {
		return nil, err
	}
	return &m, nil
}

func (s *sqlChannels) AddChannelMembers(ctx context.Context, channelID string, members []ChannelMember) error {
	members = dedupeMembers(members, time.Now().UnixNano())
	// The foreign keys refuse an absent channel or account (ErrNotFound).
	err := s.writeTx(ctx, func(tx *sql.Tx) error { return s.insertMembers(ctx, tx, channelID, members) })
	return s.err("add channel members", err)
}

func (s *sqlChannels) RemoveChannelMembers(ctx context.Context, channelID string, userIDs []string) error {
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		query := s.q("DELETE FROM channel_member WHERE channel_id = ? AND user_id = ?")
		for _, id := range userIDs {
			if _, err := tx.ExecContext(ctx, query, channelID, id); err != nil {
				return err
			}
		}
		return nil
	})
	return s.err("remove channel members", err)
}

func (s *sqlChannels) GetChannelMember(ctx context.Context, channelID, userID string) (*ChannelMember, error) {
	m, err := scanMember(s.r.QueryRowContext(ctx, s.q("SELECT "+memberColumns+" FROM channel_member WHERE channel_id = ? AND user_id = ?"), channelID, userID))
	if err != nil {
		return nil, s.err("get channel member", err)
	}
	return m, nil
}

func (s *sqlChannels) ListChannelMembers(ctx context.Context, channelID string) ([]ChannelMember, error) {
	rows, err := s.r.QueryContext(ctx, s.q("SELECT "+memberColumns+" FROM channel_member WHERE channel_id = ? ORDER BY joined_at, user_id"), channelID)
	if err != nil {
		return nil, s.err("list channel members", err)
	}
	defer rows.Close()
	out := []ChannelMember{}
	for rows.Next() {
		m, err := scanMember(rows)
		if err != nil {
			return nil, s.err("list channel members", err)
		}
		out = append(out, *m)
	}
	if err := rows.Err(); err != nil {
		return nil, s.err("list channel members", err)
	}
	return out, nil
}

func (s *sqlChannels) FindDM(ctx context.Context, userA, userB string) (*Channel, error) {
	c, err := scanChannel(s.r.QueryRowContext(ctx, s.q("SELECT "+channelColumns+" FROM channel c WHERE c.dm_key = ? AND c.type = 'dm'"), dmKey(userA, userB)))
	if err != nil {
		return nil, s.err("find dm", err)
	}
	return c, nil
}

func (s *sqlChannels) SetLastReadAt(ctx context.Context, channelID, userID string, at int64) error {
	return s.execOne(ctx, "set last read at", "UPDATE channel_member SET last_read_at = ? WHERE channel_id = ? AND user_id = ?", at, channelID, userID)
}

func (s *sqlChannels) SetMemberActive(ctx context.Context, channelID, userID string, active bool) error {
	return s.execOne(ctx, "set member active", "UPDATE channel_member SET is_active = ? WHERE channel_id = ? AND user_id = ?", active, channelID, userID)
}

// Messages.

const messageColumns = "m.id, m.user_id, m.channel_id, m.parent_id, m.reply_to_id, m.is_pinned, m.pinned_at, m.pinned_by, m.content, m.data, m.meta, m.created_at, m.updated_at"

func scanMessage(row scanner, extra ...any) (*Message, error) {
	var m Message
	var parent, replyTo, pinnedBy sql.NullString
	var pinnedAt sql.NullInt64
	var data, meta string
	dest := append([]any{&m.ID, &m.UserID, &m.ChannelID, &parent, &replyTo, &m.IsPinned, &pinnedAt, &pinnedBy, &m.Content, &data, &meta, &m.CreatedAt, &m.UpdatedAt}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	m.ParentID, m.ReplyToID, m.PinnedBy, m.PinnedAt = parent.String, replyTo.String, pinnedBy.String, pinnedAt.Int64
	m.Data, m.Meta = jsonOrEmpty(json.RawMessage(data)), jsonOrEmpty(json.RawMessage(meta))
	return &m, nil
}

func (s *sqlChannels) PostMessage(ctx context.Context, m *Message) error {
	if m.ID == "" {
		m.ID = uuid.NewString()
	}
	m.Data, m.Meta = jsonOrEmpty(m.Data), jsonOrEmpty(m.Meta)
	if m.CreatedAt == 0 {
		m.CreatedAt = time.Now().UnixNano()
	}
	if m.UpdatedAt == 0 {
		m.UpdatedAt = m.CreatedAt
	}
	m.IsPinned, m.PinnedAt, m.PinnedBy = false, 0, ""
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		// The parent and the quoted message must be in the same channel:
		// the foreign keys alone would accept another channel's message.
		// No row lock: a message's channel never changes, and the foreign
		// keys refuse a parent deleted meanwhile (a lock would serialise
		// every reply to a busy thread).
		if m.ParentID != "" {
			var root sql.NullString
			err := tx.QueryRowContext(ctx, s.q("SELECT parent_id FROM message WHERE id = ? AND channel_id = ?"), m.ParentID, m.ChannelID).Scan(&root)
			if err != nil {
				return err
			}
			if root.Valid {
				m.ParentID = root.String
			}
		}
		if m.ReplyToID != "" {
			var id string
			err := tx.QueryRowContext(ctx, s.q("SELECT id FROM message WHERE id = ? AND channel_id = ?"), m.ReplyToID, m.ChannelID).Scan(&id)
			if err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, s.q("INSERT INTO message (id, user_id, channel_id, parent_id, reply_to_id, is_pinned, content, data, meta, created_at, updated_at) VALUES (?, ?, ?, ?, ?, FALSE, ?, ?, ?, ?, ?)"),
			m.ID, m.UserID, m.ChannelID, nullable(m.ParentID), nullable(m.ReplyToID), m.Content, string(m.Data), string(m.Meta), m.CreatedAt, m.UpdatedAt)
		return err
	})
	return s.err("post message", err)
}

func (s *sqlChannels) GetMessage(ctx context.Context, id string) (*Message, error) {
	m, err := scanMessage(s.r.QueryRowContext(ctx, s.q("SELECT "+messageColumns+" FROM message m WHERE m.id = ?"), id))
	if err != nil {
		return nil, s.err("get message", err)
	}
	return m, nil
}

// threadColumns are a message's columns and its thread's reply count and
// newest reply time (scanMessage's extra destinations).
const threadColumns = messageColumns + `,
		(SELECT count(*) FROM message r WHERE r.parent_id = m.id),
		COALESCE((SELECT max(r.created_at) FROM message r WHERE r.parent_id = m.id), 0)`

func (s *sqlChannels) GetThread(ctx context.Context, id string) (*MessageThread, error) {
	var t MessageThread
	m, err := scanMessage(s.r.QueryRowContext(ctx, s.q("SELECT "+threadColumns+" FROM message m WHERE m.id = ?"), id),
		&t.ReplyCount, &t.LatestReplyAt)
	if err != nil {
		return nil, s.err("get thread", err)
	}
	t.Message = *m
	return &t, nil
}

func (s *sqlChannels) ListMessages(ctx context.Context, channelID string, skip, limit int) ([]MessageThread, error) {
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT `+threadColumns+`
		FROM message m WHERE m.channel_id = ? AND m.parent_id IS NULL
		ORDER BY m.created_at DESC, m.id DESC LIMIT ? OFFSET ?`), channelID, limitOrAll(limit), max(skip, 0))
	if err != nil {
		return nil, s.err("list messages", err)
	}
	defer rows.Close()
	out := []MessageThread{}
	for rows.Next() {
		var t MessageThread
		m, err := scanMessage(rows, &t.ReplyCount, &t.LatestReplyAt)
		if err != nil {
			return nil, s.err("list messages", err)
		}
		t.Message = *m
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, s.err("list messages", err)
	}
	return out, nil
}

func (s *sqlChannels) ListReplies(ctx context.Context, parentID string, skip, limit int) ([]Message, error) {
	rows, err := s.r.QueryContext(ctx, s.q("SELECT "+messageColumns+" FROM message m WHERE m.parent_id = ? ORDER BY m.created_at DESC, m.id DESC LIMIT ? OFFSET ?"),
		parentID, limitOrAll(limit), max(skip, 0))
	if err != nil {
		return nil, s.err("list replies", err)
	}
	defer rows.Close()
	out := []Message{}
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, s.err("list replies", err)
		}
		out = append(out, *m)
	}
	if err := rows.Err(); err != nil {
		return nil, s.err("list replies", err)
	}
	return out, nil
}

func (s *sqlChannels) UpdateMessage(ctx context.Context, id string, fn func(*Message) error) (*Message, error) {
	var m *Message
	err := s.writeTx(ctx, func(tx *sql.Tx) (err error) {
		m, err = scanMessage(tx.QueryRowContext(ctx, s.q("SELECT "+messageColumns+" FROM message m WHERE m.id = ?"+s.forUpdate), id))
		if err != nil {
			return err
		}
		before := m.UpdatedAt
		if err := fn(m); err != nil {
			return fnError{err}
		}
		if m.UpdatedAt == before {
			m.UpdatedAt = max(time.Now().UnixNano(), before+1)
		}
		m.Data, m.Meta = jsonOrEmpty(m.Data), jsonOrEmpty(m.Meta)
		_, err = tx.ExecContext(ctx, s.q("UPDATE message SET content = ?, data = ?, meta = ?, updated_at = ? WHERE id = ?"),
			m.Content, string(m.Data), string(m.Meta), m.UpdatedAt, id)
		return err
	})
	if err != nil {
		return nil, s.err("update message", err)
	}
	return m, nil
}

func (s *sqlChannels) DeleteMessage(ctx context.Context, id string) error {
	// Replies and reactions go by ON DELETE CASCADE, quotes are cleared by
	// ON DELETE SET NULL, all in this statement.
	return s.execOne(ctx, "delete message", "DELETE FROM message WHERE id = ?", id)
}

func (s *sqlChannels) PinMessage(ctx context.Context, id string, pinned bool, by string, at int64) (*Message, error) {
	if !pinned {
		by, at = "", 0
	} else if at == 0 {
		at = time.Now().UnixNano()
	}
	var m *Message
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q("UPDATE message SET is_pinned = ?, pinned_at = ?, pinned_by = ? WHERE id = ?"),
			pinned, nullable(at), nullable(by), id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return sql.ErrNoRows
		}
		m, err = scanMessage(tx.QueryRowContext(ctx, s.q("SELECT "+messageColumns+" FROM message m WHERE m.id = ?"), id))
		return err
	})
	if err != nil {
		return nil, s.err("pin message", err)
	}
	return m, nil
}

// Reactions.

func (s *sqlChannels) AddReaction(ctx context.Context, messageID, userID, name string, at int64, maxNames int) (bool, error) {
	if at == 0 {
		at = time.Now().UnixNano()
	}
	added := false
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		if maxNames > 0 {
			// The message's row lock (PostgreSQL; SQLite's one writer
			// already) makes count-then-insert one step for racing adds.
			var one int
			if err := tx.QueryRowContext(ctx, s.q("SELECT 1 FROM message WHERE id = ?"+s.forUpdate), messageID).Scan(&one); err != nil {
				return err
			}
			var names, has int
			err := tx.QueryRowContext(ctx, s.q("SELECT COUNT(DISTINCT name), COUNT(CASE WHEN name = ? THEN 1 END) FROM message_reaction WHERE message_id = ?"),
				name, messageID).Scan(&names, &has)
			if err != nil {
				return err
			}
			if has == 0 && names >= maxNames {
				return fnError{fmt.Errorf("storage: add reaction: %w", ErrLimit)}
			}
		}
		res, err := tx.ExecContext(ctx, s.q("INSERT INTO message_reaction (message_id, user_id, name, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (message_id, user_id, name) DO NOTHING"),
			messageID, userID, name, at)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		added = n > 0
		return err
	})
	return added, s.err("add reaction", err)
}

func (s *sqlChannels) RemoveReaction(ctx context.Context, messageID, userID, name string) (bool, error) {
	res, err := s.w.ExecContext(ctx, s.q("DELETE FROM message_reaction WHERE message_id = ? AND user_id = ? AND name = ?"), messageID, userID, name)
	if err != nil {
		return false, s.err("remove reaction", err)
	}
	n, err := res.RowsAffected()
	return n > 0, s.err("remove reaction", err)
}

// reactionBatch bounds the ids of one ListReactions query (SQLite allows
// 32766 parameters; a page of messages is far fewer).
const reactionBatch = 500

func (s *sqlChannels) ListReactions(ctx context.Context, messageIDs []string) (map[string][]Reaction, error) {
	out := map[string][]Reaction{}
	for batch := range slices.Chunk(messageIDs, reactionBatch) {
		args := make([]any, len(batch))
		for i, id := range batch {
			args[i] = id
		}
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(batch)), ", ")
		rows, err := s.r.QueryContext(ctx, s.q("SELECT message_id, name, user_id FROM message_reaction WHERE message_id IN ("+marks+") ORDER BY created_at, user_id, name"), args...)
		if err != nil {
			return nil, s.err("list reactions", err)
		}
		err = func() error {
			defer rows.Close()
			for rows.Next() {
				var msg, name, user string
				if err := rows.Scan(&msg, &name, &user); err != nil {
					return err
				}
				rs := out[msg]
				i := slices.IndexFunc(rs, func(r Reaction) bool { return r.Name == name })
				if i < 0 {
					i = len(rs)
					rs = append(rs, Reaction{Name: name})
				}
				rs[i].UserIDs = append(rs[i].UserIDs, user)
				rs[i].Count++
				out[msg] = rs
			}
			return rows.Err()
		}()
		if err != nil {
			return nil, s.err("list reactions", err)
		}
	}
	return out, nil
}
