package lake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/logetl/logetl/internal/s3store"
	"github.com/logetl/logetl/internal/tablespec"
)

// ErrLayout marks a configuration whose layout differs from the one the table's lake was
// created with: writing under it would put files of another grid, zone or schema beside the
// existing ones, which every query engine would then count twice. Retrying cannot fix it.
var ErrLayout = errors.New("the configuration does not match the table's layout in the lake")

// descriptorVersion is the descriptor format version; readers reject versions they do not know.
const descriptorVersion = 1

// Descriptor fixes what every file of a table is: written once, by the first export, with a
// conditional put, and checked by every writer after it (export, compaction, backfill,
// repair, purge) before it writes anything.
type Descriptor struct {
	Version       int              `json:"descriptor_version"`
	Table         string           `json:"table"`
	Window        string           `json:"window"`    // grid step, Go duration syntax (15m0s)
	TimeZone      string           `json:"time_zone"` // of the dt= and week= partitions
	Granularities []string         `json:"granularities"`
	SchemaVersion int              `json:"schema_version"`
	Fingerprint   string           `json:"policy_fingerprint"`
	Policy        tablespec.Policy `json:"policy"`
	CreatedAt     time.Time        `json:"created_at"`
	CreatedBy     string           `json:"created_by"`
}

// WindowLength is the descriptor's grid step.
func (d Descriptor) WindowLength() (time.Duration, error) {
	w, err := time.ParseDuration(d.Window)
	if err != nil {
		return 0, fmt.Errorf("layout descriptor of %s: window %q: %v", d.Table, d.Window, err)
	}
	return w, nil
}

// Store is what the descriptor and the coverage record need of S3.
type Store interface {
	GetETag(ctx context.Context, key string) ([]byte, string, error)
	PutIfAbsent(ctx context.Context, key string, data []byte, contentType string) (bool, error)
	PutIfMatch(ctx context.Context, key string, data []byte, contentType, etag string) (string, error)
}

// ReadDescriptor reads the table's descriptor; ok is false when the table has none yet (no
// export ever wrote it).
func ReadDescriptor(ctx context.Context, s Store, l Layout) (Descriptor, bool, error) {
	d, _, ok, err := readDescriptor(ctx, s, l)
	return d, ok, err
}

func readDescriptor(ctx context.Context, s Store, l Layout) (Descriptor, string, bool, error) {
	data, etag, err := s.GetETag(ctx, l.DescriptorKey())
	if errors.Is(err, s3store.ErrNotFound) {
		return Descriptor{}, "", false, nil
	}
	if err != nil {
		return Descriptor{}, "", false, fmt.Errorf("read the layout descriptor of %s: %w", l.Table, err)
	}
	var d Descriptor
	if err := json.Unmarshal(data, &d); err != nil || d.Version != descriptorVersion {
		return Descriptor{}, "", false, fmt.Errorf("%w: %s is not a layout descriptor this logetl reads (version %d, error %v); restore it or move the table to a new prefix",
			ErrLayout, l.DescriptorKey(), d.Version, err)
	}
	return d, etag, true, nil
}

// EnsureDescriptor returns the table's descriptor, creating it as want if the table has none,
// and fails with ErrLayout, naming every difference and how to proceed, when the lake's
// descriptor is not want. Two first writers cannot disagree: creation is a conditional put,
// and the loser compares against the winner's. While the table holds no file yet (hasFiles
// says; nil means it may), a different descriptor is replaced instead: nothing written under
// the old layout could be mixed with the new one (a spec edited between trial runs).
func EnsureDescriptor(ctx context.Context, s Store, l Layout, want Descriptor, hasFiles func(context.Context) (bool, error)) (Descriptor, error) {
	want.Version = descriptorVersion
	want.Table = l.Table
	for attempt := 0; attempt < 3; attempt++ {
		have, etag, ok, err := readDescriptor(ctx, s, l)
		if err != nil {
			return Descriptor{}, err
		}
		if ok {
			if diff := have.Differences(want); len(diff) > 0 {
				if hasFiles != nil {
					files, err := hasFiles(ctx)
					if err != nil {
						return Descriptor{}, err
					}
					if !files {
						data, err := json.MarshalIndent(want, "", "  ")
						if err != nil {
							return Descriptor{}, err
						}
						if _, err := s.PutIfMatch(ctx, l.DescriptorKey(), append(data, '\n'), "application/json", etag); err != nil {
							if errors.Is(err, s3store.ErrChanged) {
								continue
							}
							return Descriptor{}, fmt.Errorf("replace the layout descriptor of %s: %w", l.Table, err)
						}
						return want, nil
					}
				}
				return have, fmt.Errorf("%w: table %s (s3://…/%s): %s. Run with the lake's settings, or write this layout under a new table name or --s3-prefix (see docs/data-layout.md, \"Changing a table's layout\")",
					ErrLayout, l.Table, l.DescriptorKey(), strings.Join(diff, "; "))
			}
			return have, nil
		}
		data, err := json.MarshalIndent(want, "", "  ")
		if err != nil {
			return Descriptor{}, err
		}
		created, err := s.PutIfAbsent(ctx, l.DescriptorKey(), append(data, '\n'), "application/json")
		if err != nil {
			return Descriptor{}, fmt.Errorf("write the layout descriptor of %s: %w", l.Table, err)
		}
		if created {
			return want, nil
		}
		// Another writer created it first: compare against theirs.
	}
	return Descriptor{}, fmt.Errorf("layout descriptor of %s: it kept changing while being read", l.Table)
}

// Differences lists, in words, how want differs from d.
func (d Descriptor) Differences(want Descriptor) []string {
	var out []string
	since := fmt.Sprintf(" (recorded %s by %s)", d.CreatedAt.UTC().Format(time.RFC3339), d.CreatedBy)
	if d.Window != want.Window {
		out = append(out, fmt.Sprintf("the lake's windows are %s, this configuration's %s%s: set --window %s (LOGETL_EXPORT_WINDOW) or the spec's window", shortDuration(d.Window), shortDuration(want.Window), since, shortDuration(d.Window)))
	}
	if d.TimeZone != want.TimeZone {
		out = append(out, fmt.Sprintf("the lake's partitions are in time zone %s, this configuration's in %s%s: set --timezone %s (LOGETL_TIMEZONE) or the spec's timezone", d.TimeZone, want.TimeZone, since, d.TimeZone))
	}
	if !slices.Equal(d.Granularities, want.Granularities) {
		out = append(out, fmt.Sprintf("granularities %v, this configuration %v", d.Granularities, want.Granularities))
	}
	if d.SchemaVersion != want.SchemaVersion {
		out = append(out, fmt.Sprintf("the lake's files are schema version %d, this logetl writes %d", d.SchemaVersion, want.SchemaVersion))
	}
	if d.Fingerprint != want.Fingerprint {
		out = append(out, fmt.Sprintf("the lake's column policy is %s, this spec's %s%s: %s", short(d.Fingerprint), short(want.Fingerprint), since, policyDiff(d.Policy, want.Policy)))
	}
	return out
}

func shortDuration(s string) string {
	d, err := time.ParseDuration(s)
	if err != nil {
		return s
	}
	return strings.TrimSuffix(strings.TrimSuffix(d.String(), "0s"), "h0m")
}

func short(fp string) string {
	if len(fp) > len("sha256:")+12 {
		return fp[:len("sha256:")+12]
	}
	return fp
}

// policyDiff names the columns whose export differs between two policies.
func policyDiff(have, want tablespec.Policy) string {
	hc := map[string]tablespec.PolicyColumn{}
	for _, c := range have.Columns {
		hc[c.Name] = c
	}
	var parts []string
	for _, c := range want.Columns {
		h, ok := hc[c.Name]
		switch {
		case !ok:
			parts = append(parts, fmt.Sprintf("column %s is new (%s %s)", c.Name, c.Treatment, c.Type))
		case h != c:
			parts = append(parts, fmt.Sprintf("column %s was %s %s as %s, now %s %s as %s", c.Name, h.Treatment, h.Type, h.As, c.Treatment, c.Type, c.As))
		}
		delete(hc, c.Name)
	}
	for name := range hc {
		parts = append(parts, fmt.Sprintf("column %s is no longer exported", name))
	}
	if have.TimeColumn != want.TimeColumn || have.IDColumn != want.IDColumn {
		parts = append(parts, fmt.Sprintf("time/id columns %s/%s, now %s/%s", have.TimeColumn, have.IDColumn, want.TimeColumn, want.IDColumn))
	}
	slices.Sort(parts)
	if len(parts) == 0 {
		return "the column order changed"
	}
	return strings.Join(parts, ", ")
}
