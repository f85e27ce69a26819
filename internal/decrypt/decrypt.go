// Package decrypt turns a lake file back into readable rows for holders of the keyring: every
// sealed column opened and printed under its MySQL name, every clear column typed as its table
// declared it, pseudonyms as they are (they cannot be reversed). It reads the table's policy
// from the file itself, so it decrypts any table's file without the configuration.
package decrypt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"

	"github.com/logetl/logetl/internal/parquetlog"
	"github.com/logetl/logetl/internal/tablespec"
)

// Opener turns sealed values back into clear text; *protect.Protector is one.
type Opener interface {
	Open(field string, sealed []byte) ([]byte, error)
}

// Field is one output field: its name and its value as JSON.
type Field struct {
	Name string
	JSON []byte
}

// Row decrypts one file-form row of spec's files. Sealed columns are named by their MySQL
// column (client_ip, not client_ip_enc), as their values are once opened; the others by their
// Parquet name.
func Row(spec tablespec.Spec, row parquet.Row, o Opener) ([]Field, error) {
	cols := spec.Exported()
	out := make([]Field, len(cols))
	for i, c := range cols {
		v := row[i]
		switch c.Treatment {
		case tablespec.Seal:
			out[i].Name = c.Name
			if v.IsNull() {
				out[i].JSON = []byte("null")
				continue
			}
			plain, err := o.Open(c.Name, v.ByteArray())
			if err != nil {
				return nil, err
			}
			sv, err := tablespec.ParseText(c, plain)
			if err != nil {
				return nil, err
			}
			out[i].JSON = tablespec.JSON(c, sv)
		case tablespec.Pseudonym:
			out[i].Name = c.ParquetName()
			if v.IsNull() {
				out[i].JSON = []byte("null")
				continue
			}
			out[i].JSON = tablespec.QuoteJSON(v.ByteArray())
		default:
			out[i].Name = c.ParquetName()
			sv, err := tablespec.SourceValue(c, v)
			if err != nil {
				return nil, err
			}
			out[i].JSON = tablespec.JSON(c, sv)
		}
	}
	return out, nil
}

// WriteJSONLines writes every row of r to w as one JSON object a line, fields in file order.
// Any value that does not open stops it: a partial, silently wrong output would be worse than
// none.
func WriteJSONLines(ctx context.Context, r *parquetlog.Reader, o Opener, w io.Writer) error {
	spec := r.Spec()
	idCol := spec.Index(spec.IDColumn)
	idSpec, _ := spec.Column(spec.IDColumn)
	batch := make([]parquet.Row, 512)
	var line bytes.Buffer
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, readErr := r.Read(batch)
		for _, row := range batch[:n] {
			fields, err := Row(spec, row, o)
			if err != nil {
				return fmt.Errorf("%s %d: %w", idSpec.ParquetName(), tablespec.ID(idSpec, row[idCol]), err)
			}
			line.Reset()
			line.WriteByte('{')
			for i, f := range fields {
				if i > 0 {
					line.WriteByte(',')
				}
				line.Write(tablespec.QuoteJSON([]byte(f.Name)))
				line.WriteByte(':')
				line.Write(f.JSON)
			}
			line.WriteString("}\n")
			if _, err := w.Write(line.Bytes()); err != nil {
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
