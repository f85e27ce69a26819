package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/logetl/logetl/internal/config"
	"github.com/logetl/logetl/internal/decrypt"
	"github.com/logetl/logetl/internal/lake"
	"github.com/logetl/logetl/internal/manifest"
	"github.com/logetl/logetl/internal/parquetlog"
	"github.com/logetl/logetl/internal/protect"
	"github.com/logetl/logetl/internal/s3store"
)

// decryptCmd prints a lake file of any table as JSON lines with its sealed columns opened. It
// reads the table's policy from the file itself, so it needs no table spec; it is for holders of
// the keyring. Pseudonyms stay as they are (HMAC pseudonyms cannot be reversed).
type decryptCmd struct {
	config.DataDir
	config.Keyring
	config.S3
	Source string `arg:"" name:"file" help:"A local Parquet file or s3://bucket/key."`

	stdout io.Writer
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
	// A file's metadata names the keys that sealed it: fail before printing anything if the
	// keyring lacks one, rather than at the first row.
	for _, id := range strings.Split(r.Metadata()[parquetlog.MetaAEADKeyID], ",") {
		if id != "" && len(r.Spec().Protected()) > 0 && !slices.Contains(keyring.AEADKeyIDs(), id) {
			return fmt.Errorf("%s: %w: sealed under key id %q, which the keyring does not hold (it has %s)",
				c.Source, protect.ErrKeyring, id, strings.Join(keyring.AEADKeyIDs(), ","))
		}
	}
	out := bufio.NewWriterSize(writerOr(c.stdout), 64<<10)
	if err := decrypt.WriteJSONLines(ctx, r, p, out); err != nil {
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
	if errors.Is(err, s3store.ErrNotFound) {
		// A daily file the S3 lifecycle removed: its manifest names the weekly file that holds
		// its rows (among the rest of its week's).
		if data, merr := store.Get(ctx, lake.ManifestKey(key)); merr == nil {
			if m, perr := manifest.Parse(data); perr == nil && m.WeeklyObject != "" {
				return nil, 0, nil, fmt.Errorf("%s was removed by the S3 lifecycle on %s; its rows are in s3://%s/%s (decrypt that file: the rows of %s..%s)",
					c.Source, m.ObjectRemoved.UTC().Format(time.RFC3339), bucket, m.WeeklyObject, m.WindowStart.Format(time.RFC3339), m.WindowEnd.Format(time.RFC3339))
			}
		}
	}
	if err != nil {
		return nil, 0, nil, err
	}
	return obj, obj.Size(), func() {}, nil
}
