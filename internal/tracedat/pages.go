package tracedat

import (
	"fmt"
	"io"
)

// PageReader yields one CPU's ring-buffer pages in file order.
type PageReader struct {
	f        *File
	cpu      CPU
	pageSize int
	// Uncompressed: the next page's file offset and the end of the data.
	off, end int64
	// Compressed: the chunk table position and what is left of the
	// current decompressed chunk.
	compressed bool
	chunks     int // chunks left
	chunkOff   int64
	chunk      []byte
	page       []byte
	err        error
}

// Pages returns a reader of cpu's pages in buffer b.
func (f *File) Pages(b *Buffer, cpu CPU) *PageReader {
	p := &PageReader{f: f, cpu: cpu, pageSize: b.PageSize, off: cpu.Offset, end: cpu.Offset + cpu.Size, compressed: b.compressed}
	if b.Latency {
		p.err = fmt.Errorf("buffer %q holds latency text, not ring-buffer pages", b.Name)
		return p
	}
	if p.compressed && cpu.Size > 0 {
		hdr, err := f.readAt(cpu.Offset, 4, "chunk count")
		if err != nil {
			p.err = err
			return p
		}
		p.chunks = int(f.ByteOrder.Uint32(hdr))
		if p.chunks < 0 || p.chunks > maxChunks {
			p.err = fmt.Errorf("%w: cpu %d has %d chunks", ErrFormat, cpu.CPU, p.chunks)
		}
		p.chunkOff = cpu.Offset + 4
	} else {
		p.page = make([]byte, p.pageSize)
	}
	return p
}

// Next returns the next page, valid until the following call, or io.EOF.
func (p *PageReader) Next() ([]byte, error) {
	if p.err != nil {
		return nil, p.err
	}
	if !p.compressed {
		if p.off >= p.end {
			return nil, io.EOF
		}
		n := min(int64(p.pageSize), p.end-p.off)
		b := p.page[:n]
		if _, err := p.f.r.ReadAt(b, p.off); err != nil && err != io.EOF {
			p.err = fmt.Errorf("reading cpu %d page at offset %d: %w", p.cpu.CPU, p.off, err)
			return nil, p.err
		}
		p.off += n
		return b, nil
	}
	for len(p.chunk) == 0 {
		if p.chunks == 0 {
			return nil, io.EOF
		}
		hdr, err := p.f.readAt(p.chunkOff, 8, "chunk header")
		if err != nil {
			p.err = fmt.Errorf("cpu %d: %w", p.cpu.CPU, err)
			return nil, p.err
		}
		zsize := int64(p.f.ByteOrder.Uint32(hdr[0:4]))
		usize := int64(p.f.ByteOrder.Uint32(hdr[4:8]))
		z, err := p.f.readAt(p.chunkOff+8, zsize, "compressed chunk")
		if err != nil {
			p.err = fmt.Errorf("cpu %d: %w", p.cpu.CPU, err)
			return nil, p.err
		}
		if p.chunk, err = p.f.decompress(z, usize); err != nil {
			p.err = fmt.Errorf("cpu %d chunk at offset %d: %w", p.cpu.CPU, p.chunkOff, err)
			return nil, p.err
		}
		p.chunkOff += 8 + zsize
		p.chunks--
	}
	n := min(p.pageSize, len(p.chunk))
	b := p.chunk[:n]
	p.chunk = p.chunk[n:]
	return b, nil
}
