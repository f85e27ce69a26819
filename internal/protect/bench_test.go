package protect

import (
	"fmt"
	"testing"
)

func BenchmarkProtectPseudonym(b *testing.B) {
	p, _ := newTestProtector(b)
	b.ReportAllocs()
	var id uint64
	for b.Loop() {
		id++
		_ = p.PseudonymUint64("user_id", id%5000)
	}
}

// benchUserAgents is a pool of realistic, repeated user agents: hundreds of distinct values
// over many rows, as in the activity log.
func benchUserAgents(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.%d.0 Safari/537.36", 100+i%40, i)
	}
	return out
}

func BenchmarkProtectSeal(b *testing.B) {
	p, _ := newTestProtector(b)
	uas := benchUserAgents(300)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ua := uas[i%len(uas)]
		b.SetBytes(int64(len(ua)))
		_ = p.Seal("user_agent", ua)
		i++
	}
}

func BenchmarkProtectOpen(b *testing.B) {
	p, _ := newTestProtector(b)
	sealed := p.Seal("user_agent", benchUserAgents(1)[0])
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Open("user_agent", sealed); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProtectSealCache seals user agents drawn from 300 distinct values, resetting the cache
// every 100,000 values as the writer does at each row group.
func BenchmarkProtectSealCache(b *testing.B) {
	p, _ := newTestProtector(b)
	c := p.NewSealCache()
	uas := benchUserAgents(300)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i%100_000 == 0 {
			c.Reset()
		}
		ua := uas[(i*7919)%len(uas)]
		b.SetBytes(int64(len(ua)))
		_ = c.Seal("user_agent", ua)
		i++
	}
}
