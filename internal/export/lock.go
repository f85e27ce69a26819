package export

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
)

// ErrBusy means another writer holds the object key; retrying later succeeds.
var ErrBusy = errors.New("another export of the same object is running")

// lockWaitSeconds bounds how long a writer waits for the key before giving up (retryably).
var lockWaitSeconds = 60

// lockName is the MySQL lock of an object key (MySQL lock names are at most 64 characters).
func lockName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "logetl:" + hex.EncodeToString(sum[:])[:48]
}

// lockKey serializes every writer of one object key, in any process. The Temporal workflow id
// of a window already keeps the scheduled, backfilled and repair runs apart, but `logetl export`
// and `logetl verify --repair` run outside Temporal; without this, two writers could interleave
// so that a manifest describes the other writer's object. Every writer reads MySQL, so a MySQL
// named lock, held on its own connection for the whole write, covers them all and is released
// by the server if the process dies.
func (e *Exporter) lockKey(ctx context.Context, key string) (unlock func(), err error) {
	name := lockName(key)
	conn, err := e.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", key, err)
	}
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, ?)", name, lockWaitSeconds).Scan(&got); err != nil {
		conn.Close()
		return nil, fmt.Errorf("lock %s: %w", key, err)
	}
	if !got.Valid || got.Int64 != 1 {
		conn.Close()
		return nil, fmt.Errorf("lock %s: %w (waited %ds)", key, ErrBusy, lockWaitSeconds)
	}
	return func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT RELEASE_LOCK(?)", name)
		conn.Close()
	}, nil
}
