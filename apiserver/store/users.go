package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/logetl/logetl/internal/activitylog"
)

// User is a row of users.
type User struct {
	ID           uint64
	Email        string
	Nickname     string
	Name         string
	Gender       string
	BirthDate    time.Time
	PasswordHash string
	IsAdmin      bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// NewUser is what signup stores.
type NewUser struct {
	Email, Nickname, Name, Gender, PasswordHash string
	BirthDate                                   time.Time
	IsAdmin                                     bool
}

const userColumns = "id, email, nickname, name, gender, birth_date, password_hash, is_admin, created_at, updated_at"

func scanUser(row interface{ Scan(...any) error }) (User, error) {
	var u User
	err := row.Scan(&u.ID, &u.Email, &u.Nickname, &u.Name, &u.Gender, &u.BirthDate, &u.PasswordHash, &u.IsAdmin, &u.CreatedAt, &u.UpdatedAt)
	return u, err
}

// CreateUser inserts a user and its user.signup record (whose UserID it sets). A taken email or
// nickname is a *DuplicateError naming every taken field.
func (s *Store) CreateUser(ctx context.Context, nu NewUser, rec *activitylog.Record) (User, error) {
	u := User{Email: nu.Email, Nickname: nu.Nickname, Name: nu.Name, Gender: nu.Gender, BirthDate: nu.BirthDate,
		PasswordHash: nu.PasswordHash, IsAdmin: nu.IsAdmin}
	err := s.withLog(ctx, rec, func(tx *sql.Tx, now time.Time) error {
		var emailTaken, nickTaken bool
		if err := tx.QueryRowContext(ctx, `SELECT
			EXISTS(SELECT 1 FROM users WHERE email = ?), EXISTS(SELECT 1 FROM users WHERE nickname = ?)`,
			nu.Email, nu.Nickname).Scan(&emailTaken, &nickTaken); err != nil {
			return fmt.Errorf("check signup uniqueness: %w", err)
		}
		if dup := duplicateOf(emailTaken, nickTaken); dup != nil {
			return dup
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO users
			(email, nickname, name, gender, birth_date, password_hash, is_admin, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			nu.Email, nu.Nickname, nu.Name, nu.Gender, nu.BirthDate.Format(time.DateOnly), nu.PasswordHash, nu.IsAdmin, now, now)
		if mysqlErrNo(err) == 1062 { // a concurrent signup took it between the check and the insert
			msg := err.Error()
			return duplicateOf(strings.Contains(msg, "users_email"), strings.Contains(msg, "users_nickname"))
		}
		if err != nil {
			return fmt.Errorf("insert user: %w", err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return fmt.Errorf("insert user: %w", err)
		}
		u.ID, u.CreatedAt, u.UpdatedAt = uint64(id), now, now
		rec.UserID = &u.ID
		return nil
	})
	if err != nil {
		return User{}, err
	}
	return u, nil
}

func duplicateOf(email, nickname bool) error {
	var fields []string
	if email {
		fields = append(fields, "email")
	}
	if nickname {
		fields = append(fields, "nickname")
	}
	if fields == nil {
		return nil
	}
	return &DuplicateError{Fields: fields}
}

// UserByEmail finds a user by email (case-insensitively, by the column's collation).
func (s *Store) UserByEmail(ctx context.Context, email string) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE email = ?", email))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("find user by email: %w", err)
	}
	return u, nil
}

// UserByID finds a user by id.
func (s *Store) UserByID(ctx context.Context, id uint64) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("find user %d: %w", id, err)
	}
	return u, nil
}

// ListUsers returns every user in id order.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+userColumns+" FROM users ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	users := []User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return users, nil
}

// RecordLogin writes a successful login's record; grantAdmin also makes the user an admin in the
// same transaction (the email is in the configured admin list).
func (s *Store) RecordLogin(ctx context.Context, user uint64, grantAdmin bool, rec *activitylog.Record) error {
	var change func(*sql.Tx, time.Time) error
	if grantAdmin {
		change = func(tx *sql.Tx, now time.Time) error {
			if _, err := tx.ExecContext(ctx, "UPDATE users SET is_admin = TRUE, updated_at = ? WHERE id = ? AND NOT is_admin", now, user); err != nil {
				return fmt.Errorf("grant admin to user %d: %w", user, err)
			}
			return nil
		}
	}
	return s.withLog(ctx, rec, change)
}

// RecordRefresh writes a token refresh's record, or returns ErrUserGone when the token's user
// was withdrawn (its refresh token must not mint access tokens any more).
func (s *Store) RecordRefresh(ctx context.Context, user uint64, rec *activitylog.Record) error {
	return s.withLog(ctx, rec, func(tx *sql.Tx, _ time.Time) error {
		var one int
		err := tx.QueryRowContext(ctx, "SELECT 1 FROM users WHERE id = ?", user).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrUserGone
		}
		if err != nil {
			return fmt.Errorf("find user %d: %w", user, err)
		}
		return nil
	})
}

// DeleteUser removes a user (its posts go with it, by the foreign key's cascade) and writes the
// user.withdraw record. ErrNotFound when there is no such user.
func (s *Store) DeleteUser(ctx context.Context, id uint64, rec *activitylog.Record) error {
	return s.withLog(ctx, rec, func(tx *sql.Tx, _ time.Time) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM users WHERE id = ?", id)
		if err != nil {
			return fmt.Errorf("delete user %d: %w", id, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("delete user %d: %w", id, err)
		}
		if n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// GrantAdmin makes the user with email an admin. It reports whether such a user exists. This is
// the one way to create an admin outside the API (the API's LOGETL_ADMIN_EMAILS calls it at
// start and grants the same at signup and login).
func (s *Store) GrantAdmin(ctx context.Context, email string) (bool, error) {
	res, err := s.db.ExecContext(ctx, "UPDATE users SET is_admin = TRUE, updated_at = ? WHERE email = ?", s.timestamp(), email)
	if err != nil {
		return false, fmt.Errorf("grant admin: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("grant admin: %w", err)
	}
	if n > 0 {
		return true, nil
	}
	// RowsAffected counts changed rows only: an existing admin is still a found user.
	_, err = s.UserByEmail(ctx, email)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// GenderStats counts users by gender.
func (s *Store) GenderStats(ctx context.Context) (male, female int64, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(gender = 'M'), 0), COALESCE(SUM(gender = 'F'), 0) FROM users`).Scan(&male, &female)
	if err != nil {
		return 0, 0, fmt.Errorf("gender stats: %w", err)
	}
	return male, female, nil
}

// BirthStats counts users by generation, with the old service's bounds: millennials born
// 1981–1995, generation Z 1996–2012, generation alpha 2013 on.
func (s *Store) BirthStats(ctx context.Context) (millennial, genZ, alpha int64, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT
		COALESCE(SUM(birth_date BETWEEN '1981-01-01' AND '1995-12-31'), 0),
		COALESCE(SUM(birth_date BETWEEN '1996-01-01' AND '2012-12-31'), 0),
		COALESCE(SUM(birth_date >= '2013-01-01'), 0)
		FROM users`).Scan(&millennial, &genZ, &alpha)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("birth stats: %w", err)
	}
	return millennial, genZ, alpha, nil
}
