package devstack

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Status writes the one-line-per-event status of the dev stack's components to a terminal.
type Status struct {
	mu  sync.Mutex
	out io.Writer
	now func() time.Time
}

// NewStatus reports to out.
func NewStatus(out io.Writer) *Status {
	return &Status{out: out, now: time.Now}
}

// Report prints "HH:MM:SS component  message".
func (s *Status) Report(component, format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.out, "%s %-9s %s\n", s.now().Format("15:04:05"), component, fmt.Sprintf(format, args...))
}

// Print writes text as is, for the summary block.
func (s *Status) Print(text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	io.WriteString(s.out, text)
}
