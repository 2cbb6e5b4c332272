package bindings

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
	"testing/iotest"

	"github.com/scriptrun/scriptrun/internal/benchdata"
)

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestReadBodyLimited reads bodies of known and unknown length around the
// limit and the size of the pooled buffers, after a head or not, through
// readers that return little at a time or the end with the last bytes: the
// body is always head followed by everything, of its exact length, and a
// body over the limit is refused after reading at most one byte past it.
func TestReadBodyLimited(t *testing.T) {
	const limit = 3*bodyChunkSize + 100
	body := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('a' + i%26)
		}
		return b
	}
	readers := map[string]func(io.Reader) io.Reader{
		"plain":    func(r io.Reader) io.Reader { return r },
		"one byte": iotest.OneByteReader,
		"half":     iotest.HalfReader,
		"data+EOF": iotest.DataErrReader,
	}
	sizes := []int{0, 1, 511, bodyChunkSize - 1, bodyChunkSize, bodyChunkSize + 1, 2*bodyChunkSize + 7, limit - 1, limit, limit + 1, limit + bodyChunkSize}
	for name, wrap := range readers {
		for _, n := range sizes {
			if name == "one byte" && n > 2*bodyChunkSize+7 {
				continue // slow, and nothing new
			}
			for _, headLen := range []int{0, 10} {
				for _, sized := range []bool{false, true} {
					all := body(n + headLen)
					head, rest := all[:headLen], all[headLen:]
					size := int64(-1)
					if sized {
						size = int64(len(all))
					}
					src := &countingReader{r: wrap(bytes.NewReader(rest))}
					got, err := readBodyLimited(src, head, size, limit)
					what := func() string {
						return fmt.Sprintf("%s reader, %d bytes after a head of %d, length known %v", name, n, headLen, sized)
					}
					if len(all) > limit {
						if !errors.Is(err, errBodyOverLimit) {
							t.Fatalf("%s: err %v, want errBodyOverLimit", what(), err)
						}
						if read := int64(headLen) + src.n; read > limit+1 {
							t.Fatalf("%s: read %d bytes in all, more than one past the limit (%d)", what(), read, limit)
						}
						continue
					}
					if err != nil {
						t.Fatalf("%s: %v", what(), err)
					}
					if got == nil || !bytes.Equal(got, all) {
						t.Fatalf("%s: got %d bytes (nil %v), want the %d of head and body", what(), len(got), got == nil, len(all))
					}
				}
			}
		}
	}
}

// TestReadBodyLimitedErrors checks that a read error ends the body with
// that error, whether its length is known or not, and that a head already
// over the limit is refused without reading.
func TestReadBodyLimitedErrors(t *testing.T) {
	for _, size := range []int64{-1, 1 << 20} {
		// TimeoutReader fails its second read.
		r := iotest.TimeoutReader(bytes.NewReader(make([]byte, 1<<20)))
		if _, err := readBodyLimited(r, nil, size, 2<<20); !errors.Is(err, iotest.ErrTimeout) {
			t.Errorf("size %d: err %v, want the reader's %v", size, err, iotest.ErrTimeout)
		}
		src := &countingReader{r: bytes.NewReader([]byte("more"))}
		if _, err := readBodyLimited(src, []byte("0123456789"), size, 9); !errors.Is(err, errBodyOverLimit) || src.n != 0 {
			t.Errorf("size %d, head over the limit: err %v after reading %d bytes, want errBodyOverLimit and no read", size, err, src.n)
		}
	}
}

// BenchmarkReadBodyUnsized reads the driver's 5.5 MB document as a chunked
// response arrives: in reads of at most 32 KiB, without a length.
func BenchmarkReadBodyUnsized(b *testing.B) {
	doc := benchdata.Records(20000)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		r := io.LimitReader(bytes.NewReader(doc), int64(len(doc)))
		if _, err := readBodyLimited(&chunkedReads{r: r, max: 32 << 10}, nil, -1, 64<<20); err != nil {
			b.Fatal(err)
		}
	}
}

// chunkedReads returns at most max bytes a read.
type chunkedReads struct {
	r   io.Reader
	max int
}

func (c *chunkedReads) Read(p []byte) (int, error) {
	return c.r.Read(p[:min(len(p), c.max)])
}
