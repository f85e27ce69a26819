package parquetlog

import (
	"sync"

	kzstd "github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/parquet-go/parquet-go/format"
)

// zstdWindow caps the zstd window. parquet-go's own codec uses the level's default window (8
// MiB at the default level), and its encoders hold about twice that each; pages are 256 KiB
// before compression, so a small window compresses them as well and keeps the writer's memory
// low.
const zstdWindow = 1 << 20

// zstdCodec is a ZSTD Parquet codec with a bounded window. Encoders are pooled; decoding is
// delegated to parquet-go's codec.
type zstdCodec struct {
	level    kzstd.EncoderLevel
	entropy  bool
	encoders sync.Pool
	decoder  zstd.Codec
}

// newZstdCodec returns a codec at level. allLitEntropy makes the encoder entropy-code blocks in
// which it found no matches: klauspost/zstd otherwise stores such blocks raw, so a column of
// random hex or UUID request ids (16 symbols, 4 bits of information per byte) would not shrink
// at all. Ciphertext columns leave it off: random bytes cannot be entropy-coded, and trying
// costs time.
func newZstdCodec(level kzstd.EncoderLevel, allLitEntropy bool) *zstdCodec {
	return &zstdCodec{level: level, entropy: allLitEntropy}
}

func (c *zstdCodec) String() string { return "ZSTD" }

func (c *zstdCodec) CompressionCodec() format.CompressionCodec { return format.Zstd }

func (c *zstdCodec) Encode(dst, src []byte) ([]byte, error) {
	e, _ := c.encoders.Get().(*kzstd.Encoder)
	if e == nil {
		var err error
		e, err = kzstd.NewWriter(nil,
			kzstd.WithEncoderConcurrency(1),
			kzstd.WithEncoderLevel(c.level),
			kzstd.WithWindowSize(zstdWindow),
			kzstd.WithLowerEncoderMem(true),
			kzstd.WithAllLitEntropyCompression(c.entropy),
			kzstd.WithZeroFrames(true),
			kzstd.WithEncoderCRC(false),
		)
		if err != nil {
			return dst[:0], err
		}
	}
	out := e.EncodeAll(src, dst[:0])
	c.encoders.Put(e)
	return out, nil
}

func (c *zstdCodec) Decode(dst, src []byte) ([]byte, error) {
	return c.decoder.Decode(dst, src)
}
