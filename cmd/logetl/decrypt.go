package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/internal/parquetlog"
	"github.com/logetl/logetl/internal/protect"
	"github.com/logetl/logetl/internal/s3store"
)

// decryptCmd prints an exported file as JSON lines with the protected fields opened. It is for
// holders of the keyring; user_pseudonym stays as is (HMAC pseudonyms cannot be reversed).
type decryptCmd struct {
	config.DataDir
	config.Keyring
	config.S3
	Source string `arg:"" name:"file" help:"A local Parquet file or s3://bucket/key."`

	stdout io.Writer
}

// decryptedRow is one output line; field order is stable for diffing.
type decryptedRow struct {
	LogID         int64   `json:"log_id"`
	OccurredAt    string  `json:"occurred_at"`
	RequestID     string  `json:"request_id"`
	UserPseudonym *string `json:"user_pseudonym"`
	Action        string  `json:"action"`
	Method        string  `json:"method"`
	Route         string  `json:"route"`
	Path          string  `json:"path"`
	Status        int32   `json:"status"`
	PostID        *int64  `json:"post_id"`
	ClientIP      string  `json:"client_ip"`
	UserAgent     string  `json:"user_agent"`
	Email         *string `json:"email"`
	Message       string  `json:"message"`
}

func (c *decryptCmd) Run(ctx context.Context) error {
	keyring, err := protect.LoadKeyring(c.Resolve(c.DataDir))
	if err != nil {
		return err
	}
	p, err := protect.NewProtector(keyring)
	if err != nil {
		return err
	}
	src, size, closeSrc, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer closeSrc()
	r, err := parquetlog.OpenReader(src, size)
	if err != nil {
		return fmt.Errorf("%s: %w", c.Source, err)
	}
	defer r.Close()
	// A file's metadata names the key that sealed it: fail before printing anything if the
	// keyring lacks it, rather than at the first row.
	if id := r.Metadata()[parquetlog.MetaAEADKeyID]; id != "" && !slices.Contains(keyring.AEADKeyIDs(), id) {
		return fmt.Errorf("%s: %w: sealed under key id %q, which the keyring does not hold (it has %s)",
			c.Source, protect.ErrKeyring, id, strings.Join(keyring.AEADKeyIDs(), ","))
	}
	out := bufio.NewWriterSize(writerOr(c.stdout), 64<<10)
	if err := decryptRows(ctx, r, p, out); err != nil {
		return fmt.Errorf("%s: %w", c.Source, err)
	}
	return out.Flush()
}

// open returns the file as an io.ReaderAt with its size, and how to release it.
func (c *decryptCmd) open(ctx context.Context) (io.ReaderAt, int64, func(), error) {
	if strings.HasPrefix(c.Source, "s3://") {
		return c.openS3(ctx)
	}
	f, err := os.Open(c.Source)
	if err != nil {
		return nil, 0, nil, err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, nil, err
	}
	if info.IsDir() {
		f.Close()
		return nil, 0, nil, fmt.Errorf("%s is a folder, not a Parquet file", c.Source)
	}
	return f, info.Size(), func() { f.Close() }, nil
}

// opener turns sealed values back into clear text; *protect.Protector is one.
type opener interface {
	Open(field string, sealed []byte) ([]byte, error)
}

// decryptRows writes every row of r as one JSON line. Any value that does not open stops the
// command: a partial, silently wrong output would be worse than none.
func decryptRows(ctx context.Context, r *parquetlog.Reader, p opener, out io.Writer) error {
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	batch := make([]parquetlog.Row, 512)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, readErr := r.Read(batch)
		for _, row := range batch[:n] {
			d, err := decryptRow(p, row)
			if err != nil {
				return fmt.Errorf("log_id %d: %w", row.LogID, err)
			}
			if err := enc.Encode(d); err != nil {
				return fmt.Errorf("write output: %w", err)
			}
		}
		if errors.Is(readErr, io.EOF) {
			return nil
		}
		if readErr != nil {
			return readErr
		}
	}
}

func decryptRow(p opener, row parquetlog.Row) (decryptedRow, error) {
	d := decryptedRow{
		LogID:         row.LogID,
		OccurredAt:    row.OccurredAt.UTC().Format(time.RFC3339Nano),
		RequestID:     row.RequestID,
		UserPseudonym: row.UserPseudonym,
		Action:        row.Action,
		Method:        row.Method,
		Route:         row.Route,
		Path:          row.Path,
		Status:        row.Status,
		PostID:        row.PostID,
		Message:       row.Message,
	}
	ip, err := p.Open("client_ip", row.ClientIPEnc)
	if err != nil {
		return d, err
	}
	ua, err := p.Open("user_agent", row.UserAgentEnc)
	if err != nil {
		return d, err
	}
	d.ClientIP, d.UserAgent = string(ip), string(ua)
	if len(row.EmailEnc) > 0 { // null in the file; a sealed value is never empty
		email, err := p.Open("email", row.EmailEnc)
		if err != nil {
			return d, err
		}
		s := string(email)
		d.Email = &s
	}
	return d, nil
}

// openS3 reads s3://bucket/key with ranged GETs through internal/s3store, using the configured
// endpoint and region and the SDK's usual credentials; the bucket comes from the URL.
func (c *decryptCmd) openS3(ctx context.Context) (io.ReaderAt, int64, func(), error) {
	bucket, key, ok := strings.Cut(strings.TrimPrefix(c.Source, "s3://"), "/")
	if !ok || bucket == "" || key == "" {
		return nil, 0, nil, fmt.Errorf("%q: want s3://bucket/key", c.Source)
	}
	cfg := c.S3
	cfg.S3Bucket = bucket
	store, err := s3store.New(ctx, cfg)
	if err != nil {
		return nil, 0, nil, err
	}
	obj, err := store.Open(ctx, key)
	if err != nil {
		return nil, 0, nil, err
	}
	return obj, obj.Size(), func() {}, nil
}
