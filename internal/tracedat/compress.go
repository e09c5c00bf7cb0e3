package tracedat

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
)

// decompressor undoes one of trace-cmd's compression algorithms. trace-cmd
// compresses with zlib's compress2 (zlib framing) or with ZSTD_compress
// (zstd frames).
type decompressor interface {
	decompress(z []byte, usize int) ([]byte, error)
}

func newDecompressor(name string) (decompressor, error) {
	switch name {
	case "", "none":
		return nil, nil
	case "zlib":
		return zlibDecompressor{}, nil
	case "zstd":
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxMeta))
		if err != nil {
			return nil, fmt.Errorf("starting zstd: %w", err)
		}
		return zstdDecompressor{d}, nil
	}
	return nil, fmt.Errorf("%w: compression %q (gpuwatch reads zlib and zstd)", ErrFormat, name)
}

type zlibDecompressor struct{}

func (zlibDecompressor) decompress(z []byte, usize int) ([]byte, error) {
	r, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, fmt.Errorf("zlib: %w", err)
	}
	out := make([]byte, 0, usize)
	buf := bytes.NewBuffer(out)
	if _, err := io.Copy(buf, io.LimitReader(r, int64(usize)+1)); err != nil {
		return nil, fmt.Errorf("zlib: %w", err)
	}
	return buf.Bytes(), nil
}

type zstdDecompressor struct{ d *zstd.Decoder }

func (z zstdDecompressor) decompress(in []byte, usize int) ([]byte, error) {
	out, err := z.d.DecodeAll(in, make([]byte, 0, usize))
	if err != nil {
		return nil, fmt.Errorf("zstd: %w", err)
	}
	return out, nil
}
