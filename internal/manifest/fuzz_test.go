package manifest

import (
	"errors"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse: a manifest comes from S3, so it may be truncated or
// hand-edited. Parse must never panic, must reject with ErrInvalid, and whatever it accepts
// must render back to a manifest that parses the same.
func FuzzParse(f *testing.F) {
	good, err := daily().Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"manifest_version":1}`))
	f.Add([]byte(`{"manifest_version":1,"rows":-1,"min_log_id":null}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		again, err := m.Marshal()
		if err != nil {
			t.Fatalf("accepted manifest does not marshal: %v", err)
		}
		m2, err := Parse(again)
		if err != nil || m2.Rows != m.Rows || m2.Object != m.Object || !m2.WindowStart.Equal(m.WindowStart) {
			t.Fatalf("round trip changed the manifest: %v", err)
		}
	})
}
