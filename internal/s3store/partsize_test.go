package s3store

import "testing"

func TestPartSizeDoublesEveryGrowthStepUpToS3sLargestPart(t *testing.T) {
	s := &Store{partSize: 8 << 20, growEvery: DefaultPartGrowth}
	tests := []struct {
		part int32
		want int64
	}{
		{1, 8 << 20},
		{1000, 8 << 20},
		{1001, 16 << 20},
		{2000, 16 << 20},
		{2001, 32 << 20},
		{9001, 4 << 30},
		{10000, 4 << 30},
	}
	for _, tt := range tests {
		if got := s.partSizeOf(tt.part); got != tt.want {
			t.Errorf("part %d: size %d, want %d", tt.part, got, tt.want)
		}
	}
	big := &Store{partSize: 1 << 30, growEvery: 1}
	if got := big.partSizeOf(5); got != maxPartSize {
		t.Errorf("a 1 GiB part doubled 4 times: %d bytes, want S3's largest part, %d", got, int64(maxPartSize))
	}
}

func TestTenThousandPartsHoldS3sLargestObject(t *testing.T) {
	const largestObject = 5_000_000_000_000 // S3's limit: 5 TB
	for _, partSize := range []int64{MinPartSize, 8 << 20} {
		s := &Store{partSize: partSize, growEvery: DefaultPartGrowth}
		var total int64
		for num := int32(1); num <= maxParts; num++ {
			total += s.partSizeOf(num)
		}
		if total < largestObject {
			t.Errorf("part size %d: %d parts hold %d bytes, less than S3's largest object", partSize, maxParts, total)
		}
	}
}
