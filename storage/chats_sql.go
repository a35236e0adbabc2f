package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

var _ Chats = (*sqlChats)(nil)

// sqlChats implements Chats for both drivers (sql.go).
type sqlChats struct{ *sqlDB }

const chatColumns = "id, user_id, title, chat, meta, pinned, archived, folder_id, share_id, last_read_at, created_at, updated_at"

func scanChat(row scanner) (*Chat, error) {
	var c Chat
	var body, meta string
	var folder, share sql.NullString
	var lastRead sql.NullInt64
	err := row.Scan(&c.ID, &c.UserID, &c.Title, &body, &meta, &c.Pinned, &c.Archived, &folder, &share, &lastRead, &c.CreatedAt, &c.UpdatedAt)
	if err != nil {
		return nil, err
	}
	c.Chat, c.Meta = jsonOrEmpty(json.RawMessage(body)), jsonOrEmpty(json.RawMessage(meta))
	c.FolderID, c.ShareID, c.LastReadAt = folder.String, share.String, lastRead.Int64
	return &c, nil
}

func (s *sqlChats) CreateChat(ctx context.Context, c *Chat) error {
	return s.err("create chat", s.insertChat(ctx, s.w, c))
}

func (s *sqlChats) CreateChats(ctx context.Context, cs []*Chat) error {
	if len(cs) == 0 {
		return nil
	}
	return s.err("create chats", s.writeTx(ctx, func(tx *sql.Tx) error {
		for _, c := range cs {
			if err := s.insertChat(ctx, tx, c); err != nil {
				return err
			}
		}
		return nil
	}))
}

// execer is a *sql.DB or a *sql.Tx.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// insertChat fills c's defaults (CreateChat) and inserts it.
func (s *sqlChats) insertChat(ctx context.Context, db execer, c *Chat) error {
	if c.ID == "" {
		c.ID = uuid.NewString()
	}
	c.Chat, c.Meta = jsonOrEmpty(c.Chat), jsonOrEmpty(c.Meta)
	if c.CreatedAt == 0 {
		c.CreatedAt = time.Now().Unix()
	}
	if c.UpdatedAt == 0 {
		c.UpdatedAt = c.CreatedAt
	}
	_, err := db.ExecContext(ctx, s.q("INSERT INTO chat ("+chatColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
		c.ID, c.UserID, c.Title, string(c.Chat), string(c.Meta), c.Pinned, c.Archived,
		nullable(c.FolderID), nullable(c.ShareID), nullable(c.LastReadAt), c.CreatedAt, c.UpdatedAt)
	return err
}

func (s *sqlChats) GetChat(ctx context.Context, id string) (*Chat, error) {
	c, err := scanChat(s.r.QueryRowContext(ctx, s.q("SELECT "+chatColumns+" FROM chat WHERE id = ?"), id))
	if err != nil {
		return nil, s.err("get chat", err)
	}
	return c, nil
}

func (s *sqlChats) ListChats(ctx context.Context, opt ListChatsOptions) ([]ChatTitle, error) {
	// chat_user_listed covers the filter and the order: an index range, not
	// a scan or a sort, and the conversations themselves are never read.
	where := "user_id = ? AND archived = ?"
	args := []any{opt.UserID, opt.Archived}
	if opt.Pinned != nil {
		where += " AND pinned = ?"
		args = append(args, *opt.Pinned)
	}
	args = append(args, limitOrAll(opt.Limit), max(opt.Skip, 0))
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT id, title, pinned, archived, last_read_at, created_at, updated_at
		FROM chat WHERE `+where+` ORDER BY updated_at DESC, id DESC LIMIT ? OFFSET ?`), args...)
	if err != nil {
		return nil, s.err("list chats", err)
	}
	defer rows.Close()
	out := []ChatTitle{}
	for rows.Next() {
		var t ChatTitle
		var lastRead sql.NullInt64
		if err := rows.Scan(&t.ID, &t.Title, &t.Pinned, &t.Archived, &lastRead, &t.CreatedAt, &t.UpdatedAt); err != nil {
			return nil, s.err("list chats", err)
		}
		t.LastReadAt = lastRead.Int64
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, s.err("list chats", err)
	}
	return out, nil
}

func (s *sqlChats) UpdateChat(ctx context.Context, id string, fn func(*Chat) error) (*Chat, error) {
	var c *Chat
	err := s.writeTx(ctx, func(tx *sql.Tx) (err error) {
		c, err = scanChat(tx.QueryRowContext(ctx, s.q("SELECT "+chatColumns+" FROM chat WHERE id = ?"+s.forUpdate), id))
		if err != nil {
			return err
		}
		row := *c
		if err := fn(c); err != nil {
			return fnError{err}
		}
		// What is not written stays as stored, so c is the stored chat.
		c.ID, c.UserID, c.LastReadAt, c.CreatedAt = row.ID, row.UserID, row.LastReadAt, row.CreatedAt
		c.Chat, c.Meta = jsonOrEmpty(c.Chat), jsonOrEmpty(c.Meta)
		_, err = tx.ExecContext(ctx, s.q(`UPDATE chat SET title = ?, chat = ?, meta = ?, pinned = ?, archived = ?,
			folder_id = ?, share_id = ?, updated_at = ? WHERE id = ?`),
			c.Title, string(c.Chat), string(c.Meta), c.Pinned, c.Archived, nullable(c.FolderID), nullable(c.ShareID), c.UpdatedAt, id)
		return err
	})
	if err != nil {
		return nil, s.err("update chat", err)
	}
	return c, nil
}

func (s *sqlChats) SetChatLastReadAt(ctx context.Context, id, userID string, at int64) error {
	return s.execOne(ctx, "set chat last read at", "UPDATE chat SET last_read_at = ? WHERE id = ? AND user_id = ?", at, id, userID)
}

func (s *sqlChats) DeleteChat(ctx context.Context, id string) error {
	return s.execOne(ctx, "delete chat", "DELETE FROM chat WHERE id = ?", id)
}
