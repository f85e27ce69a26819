package tablespec

import (
	"sync"
	"testing"
)

// TestConcurrentValidatesOfCopiesOfOneSpecDoNotShareColumns: exporters of one table are made
// concurrently from copies of one spec; under -race this fails if Validate writes into the
// shared column array.
func TestConcurrentValidatesOfCopiesOfOneSpecDoNotShareColumns(t *testing.T) {
	spec := Builtin().Tables[0]
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func(s Spec) {
			defer wg.Done()
			if err := s.Validate(); err != nil {
				t.Error(err)
			}
		}(spec)
	}
	wg.Wait()
}
