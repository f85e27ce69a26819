package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/logetl/logetl/internal/activitylog"
)

// Post is a row of posts.
type Post struct {
	ID        uint64
	UserID    uint64
	Title     string
	Body      string
	Views     uint64
	CreatedAt time.Time
	UpdatedAt time.Time
}

const postColumns = "id, user_id, title, body, views, created_at, updated_at"

func scanPost(row interface{ Scan(...any) error }) (Post, error) {
	var p Post
	err := row.Scan(&p.ID, &p.UserID, &p.Title, &p.Body, &p.Views, &p.CreatedAt, &p.UpdatedAt)
	return p, err
}

// CreatePost inserts a post by user and its post.create record (whose PostID it sets).
// ErrUserGone when the user no longer exists.
func (s *Store) CreatePost(ctx context.Context, user uint64, title, body string, rec *activitylog.Record) (Post, error) {
	p := Post{UserID: user, Title: title, Body: body}
	err := s.withLog(ctx, rec, func(tx *sql.Tx, now time.Time) error {
		res, err := tx.ExecContext(ctx, "INSERT INTO posts (user_id, title, body, views, created_at, updated_at) VALUES (?, ?, ?, 0, ?, ?)",
			user, title, body, now, now)
		if mysqlErrNo(err) == 1452 { // foreign key: the author was withdrawn
			return ErrUserGone
		}
		if err != nil {
			return fmt.Errorf("insert post: %w", err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return fmt.Errorf("insert post: %w", err)
		}
		p.ID, p.CreatedAt, p.UpdatedAt = uint64(id), now, now
		rec.PostID = &p.ID
		return nil
	})
	if err != nil {
		return Post{}, err
	}
	return p, nil
}

// ViewPost counts a view of post id and returns it with the new count, writing the post.view
// record. ErrNotFound when there is no such post.
func (s *Store) ViewPost(ctx context.Context, id uint64, rec *activitylog.Record) (Post, error) {
	var p Post
	err := s.withLog(ctx, rec, func(tx *sql.Tx, _ time.Time) error {
		res, err := tx.ExecContext(ctx, "UPDATE posts SET views = views + 1 WHERE id = ?", id)
		if err != nil {
			return fmt.Errorf("count view of post %d: %w", id, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("count view of post %d: %w", id, err)
		}
		if n == 0 {
			return ErrNotFound
		}
		if p, err = scanPost(tx.QueryRowContext(ctx, "SELECT "+postColumns+" FROM posts WHERE id = ?", id)); err != nil {
			return fmt.Errorf("read post %d: %w", id, err)
		}
		rec.PostID = &p.ID
		return nil
	})
	if err != nil {
		return Post{}, err
	}
	return p, nil
}

// lockOwnPost reads post id for update and checks that actor owns it.
func lockOwnPost(ctx context.Context, tx *sql.Tx, id, actor uint64) (Post, error) {
	p, err := scanPost(tx.QueryRowContext(ctx, "SELECT "+postColumns+" FROM posts WHERE id = ? FOR UPDATE", id))
	return ownPost(p, err, id, actor)
}

func ownPost(p Post, err error, id, actor uint64) (Post, error) {
	if errors.Is(err, sql.ErrNoRows) {
		return Post{}, ErrNotFound
	}
	if err != nil {
		return Post{}, fmt.Errorf("read post %d: %w", id, err)
	}
	if p.UserID != actor {
		return Post{}, ErrForbidden
	}
	return p, nil
}

// UpdatePost changes the title and/or body (nil: unchanged) of post id, which actor must own,
// and writes the post.update record. ErrNotFound or ErrForbidden otherwise.
func (s *Store) UpdatePost(ctx context.Context, id, actor uint64, title, body *string, rec *activitylog.Record) (Post, error) {
	var p Post
	err := s.withLog(ctx, rec, func(tx *sql.Tx, now time.Time) error {
		var err error
		if p, err = lockOwnPost(ctx, tx, id, actor); err != nil {
			return err
		}
		if title != nil {
			p.Title = *title
		}
		if body != nil {
			p.Body = *body
		}
		p.UpdatedAt = now
		if _, err := tx.ExecContext(ctx, "UPDATE posts SET title = ?, body = ?, updated_at = ? WHERE id = ?", p.Title, p.Body, now, id); err != nil {
			return fmt.Errorf("update post %d: %w", id, err)
		}
		rec.PostID = &p.ID
		return nil
	})
	if err != nil {
		return Post{}, err
	}
	return p, nil
}

// DeletePost removes post id, which actor must own, and writes the post.delete record.
func (s *Store) DeletePost(ctx context.Context, id, actor uint64, rec *activitylog.Record) error {
	return s.withLog(ctx, rec, func(tx *sql.Tx, _ time.Time) error {
		p, err := lockOwnPost(ctx, tx, id, actor)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM posts WHERE id = ?", id); err != nil {
			return fmt.Errorf("delete post %d: %w", id, err)
		}
		rec.PostID = &p.ID
		return nil
	})
}

// CountPosts counts the posts, optionally of one user.
func (s *Store) CountPosts(ctx context.Context, user *uint64) (int64, error) {
	where, args := postFilter(user)
	var count int64
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM posts"+where, args...).Scan(&count); err != nil {
		return 0, fmt.Errorf("count posts: %w", err)
	}
	return count, nil
}

// ListPosts returns one page of posts, newest first, optionally of one user.
func (s *Store) ListPosts(ctx context.Context, user *uint64, limit, offset int) ([]Post, error) {
	where, args := postFilter(user)
	rows, err := s.db.QueryContext(ctx, "SELECT "+postColumns+" FROM posts"+where+" ORDER BY id DESC LIMIT ? OFFSET ?", append(args, limit, offset)...)
	if err != nil {
		return nil, fmt.Errorf("list posts: %w", err)
	}
	defer rows.Close()
	posts := []Post{}
	for rows.Next() {
		p, err := scanPost(rows)
		if err != nil {
			return nil, fmt.Errorf("list posts: %w", err)
		}
		posts = append(posts, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list posts: %w", err)
	}
	return posts, nil
}

func postFilter(user *uint64) (string, []any) {
	if user == nil {
		return "", nil
	}
	return " WHERE user_id = ?", []any{*user}
}

// PostOwnedBy reads post id and checks that actor owns it: ErrNotFound or ErrForbidden.
func (s *Store) PostOwnedBy(ctx context.Context, id, actor uint64) (Post, error) {
	p, err := scanPost(s.db.QueryRowContext(ctx, "SELECT "+postColumns+" FROM posts WHERE id = ?", id))
	return ownPost(p, err, id, actor)
}

// PostGenderStats counts posts by their author's gender.
func (s *Store) PostGenderStats(ctx context.Context) (male, female int64, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(u.gender = 'M'), 0), COALESCE(SUM(u.gender = 'F'), 0)
		FROM posts p JOIN users u ON u.id = p.user_id`).Scan(&male, &female)
	if err != nil {
		return 0, 0, fmt.Errorf("post gender stats: %w", err)
	}
	return male, female, nil
}
