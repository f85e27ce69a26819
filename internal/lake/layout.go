// Package lake is the S3 side of a table: the keys of its objects, the layout descriptor that
// fixes its window grid, time zone and policy for every writer, and the coverage record that
// proves which windows were exported without an object per empty window. See
// docs/data-layout.md.
package lake

import (
	"path"
	"strings"
	"time"

	"github.com/logetl/logetl/internal/partition"
)

// Layout builds the object keys of one table under a prefix:
//
//	{prefix}/{table}/daily/dt=2026-11-24/part-20261124T1000Z-20261124T1015Z.parquet
//	{prefix}/{table}/weekly/week=2026-W48/part-2026-W48.parquet
//	{prefix}/{table}/_logetl/layout.json     the layout descriptor
//	{prefix}/{table}/_logetl/coverage.json   the windows known exported
//
// each Parquet object with a sibling .manifest.json. The _logetl folder is outside the Hive
// partitions, so engines that read daily/*/*.parquet never see it.
type Layout struct {
	Prefix string
	Table  string
}

// keyTime is the UTC timestamp format inside part file names: minute precision, which is why
// window lengths are whole minutes.
const keyTime = "20060102T1504Z"

const (
	parquetExt  = ".parquet"
	manifestExt = ".manifest.json"
)

// The Hive partition segments of the keys: DayPart+"2026-11-24", WeekPart+"2026-W48". Every
// writer and reader of keys uses these (Athena's DDL in docs/querying.md names them too).
const (
	DayPart  = "dt="
	WeekPart = "week="
)

// Root is {prefix}/{table}.
func (l Layout) Root() string { return path.Join(l.Prefix, l.Table) }

// PartitionsPrefix is the folder of one granularity's partitions, with a trailing slash.
func (l Layout) PartitionsPrefix(g partition.Granularity) string {
	return path.Join(l.Root(), string(g)) + "/"
}

// DayPrefix is the folder of one day partition, with a trailing slash (for listing).
func (l Layout) DayPrefix(day string) string {
	return l.PartitionsPrefix(partition.Daily) + DayPart + day + "/"
}

// WeekPrefix is the folder of one week partition, with a trailing slash (for listing).
func (l Layout) WeekPrefix(w partition.Week) string {
	return l.PartitionsPrefix(partition.Weekly) + WeekPart + w.String() + "/"
}

// DailyKey is the Parquet object key of a day piece of a window.
func (l Layout) DailyKey(p partition.Piece) string {
	return l.DayPrefix(p.Day) + "part-" + p.Window.String() + parquetExt
}

// WeeklyKey is the Parquet object key of a week's compacted file.
func (l Layout) WeeklyKey(w partition.Week) string {
	return l.WeekPrefix(w) + "part-" + w.String() + parquetExt
}

// FileTag is the S3 object tag every Parquet object of the lake carries, valued by its
// granularity (daily or weekly); manifests and records carry none. A bucket lifecycle rule that
// expires daily files selects them by it, so it can never expire a manifest
// (docs/retention.md).
const FileTag = "logetl-file"

// LifecycleKey is the key of the record of the daily files removed from a week.
func (l Layout) LifecycleKey(w partition.Week) string {
	return path.Join(l.Root(), "_logetl", "lifecycle", WeekPart+w.String()+".json")
}

// DescriptorKey is the key of the layout descriptor.
func (l Layout) DescriptorKey() string { return path.Join(l.Root(), "_logetl", "layout.json") }

// CoverageKey is the key of the coverage record.
func (l Layout) CoverageKey() string { return path.Join(l.Root(), "_logetl", "coverage.json") }

// ManifestKey is the manifest key that accompanies a Parquet object key.
func ManifestKey(parquetKey string) string {
	return strings.TrimSuffix(parquetKey, parquetExt) + manifestExt
}

// Key is what a key under a table's partitions names, as ParseKey reads it.
type Key struct {
	Granularity partition.Granularity
	Partition   string           // dt=YYYY-MM-DD or week=YYYY-Www
	Window      partition.Window // a daily file's piece
	Week        string           // a weekly file's week, YYYY-Www
	Manifest    bool             // the manifest, not the Parquet object
	Parquet     string           // the Parquet key the key is or belongs to
}

// ParseKey reads a key under the table's partitions. ok is false for anything that is not a
// logetl part file or manifest by its name (it may still be a stray of the right shape: the
// caller checks that the window is one of its grid's).
func (l Layout) ParseKey(key string) (Key, bool) {
	for _, g := range []partition.Granularity{partition.Daily, partition.Weekly} {
		rest, ok := strings.CutPrefix(key, l.PartitionsPrefix(g))
		if !ok {
			continue
		}
		part, name, ok := strings.Cut(rest, "/")
		if !ok || strings.Contains(name, "/") {
			return Key{}, false
		}
		k := Key{Granularity: g, Partition: part}
		stem, isManifest := strings.CutSuffix(name, manifestExt)
		if !isManifest {
			var isParquet bool
			if stem, isParquet = strings.CutSuffix(name, parquetExt); !isParquet {
				return Key{}, false
			}
		}
		k.Manifest = isManifest
		k.Parquet = l.PartitionsPrefix(g) + part + "/" + stem + parquetExt
		stem, ok = strings.CutPrefix(stem, "part-")
		if !ok {
			return Key{}, false
		}
		if g == partition.Weekly {
			if _, err := partition.ParseWeek(stem); err != nil || part != WeekPart+stem {
				return Key{}, false
			}
			k.Week = stem
			return k, true
		}
		a, b, ok := strings.Cut(stem, "-")
		if !ok || !strings.HasPrefix(part, DayPart) {
			return Key{}, false
		}
		start, err1 := time.Parse(keyTime, a)
		end, err2 := time.Parse(keyTime, b)
		if err1 != nil || err2 != nil || !start.Before(end) {
			return Key{}, false
		}
		k.Window = partition.Window{Start: start.UTC(), End: end.UTC()}
		return k, true
	}
	return Key{}, false
}
