package localsvc

import (
	"bytes"
	"io"
	"sync"
)

// maxLine bounds a line held back while waiting for its end; a longer one is passed on cut.
const maxLine = 64 << 10

// LineWriter is an io.Writer that hands each complete line (without its newline) to fn, for
// watching a child's output while it also goes to its log (see Tee).
type LineWriter struct {
	mu  sync.Mutex
	fn  func(line string)
	buf []byte
}

// NewLineWriter calls fn for every line written.
func NewLineWriter(fn func(line string)) *LineWriter { return &LineWriter{fn: fn} }

func (w *LineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.fn(string(bytes.TrimRight(w.buf[:i], "\r")))
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > maxLine {
		w.fn(string(w.buf))
		w.buf = w.buf[:0]
	}
	return len(p), nil
}

// Tee writes to every writer whatever the others do (io.MultiWriter stops at the first error,
// and a broken terminal must not silence a log file).
type Tee []io.Writer

func (t Tee) Write(p []byte) (int, error) {
	for _, w := range t {
		_, _ = w.Write(p)
	}
	return len(p), nil
}
