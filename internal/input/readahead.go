package input

import (
	"errors"
	"io"
	"sync"
)

// readAhead reads r on a goroutine of its own, up to depth chunks ahead
// of its reader. It is for input whose reading costs CPU time (gzip): the
// text reader's workers read their blocks themselves, in turn, so that a
// block lands in the cache of the CPU that parses it; decompressing there
// too would put the decompression in turn with the parsing instead of
// beside it. Close stops the goroutine.
type readAhead struct {
	chunks chan readChunk
	free   chan []byte
	done   chan struct{}
	close  sync.Once

	cur []byte // the rest of the chunk being read
	buf []byte // its buffer, given back when it is read
	err error  // after cur
}

type readChunk struct {
	b   []byte
	err error // after b; io.EOF at the end
}

func newReadAhead(r io.Reader, size, depth int) *readAhead {
	a := &readAhead{
		chunks: make(chan readChunk, depth),
		free:   make(chan []byte, depth+1),
		done:   make(chan struct{}),
	}
	go a.run(r, size)
	return a
}

// errReadAheadClosed is Read's error after Close.
var errReadAheadClosed = errors.New("read after close")

func (a *readAhead) run(r io.Reader, size int) {
	for {
		select {
		case <-a.done:
			return
		default:
		}
		var b []byte
		select {
		case b = <-a.free:
		default:
			b = make([]byte, size)
		}
		// Not io.ReadFull: it turns an early io.EOF into
		// io.ErrUnexpectedEOF, and the reader's own errors must pass
		// as they are (a cut gzip stream's io.ErrUnexpectedEOF).
		n := 0
		var err error
		for n < len(b) && err == nil {
			var m int
			m, err = r.Read(b[n:])
			n += m
		}
		select {
		case a.chunks <- readChunk{b[:n], err}:
		case <-a.done:
			return
		}
		if err != nil {
			return
		}
	}
}

// Read implements io.Reader: the chunks' bytes, then the error that ended
// them.
func (a *readAhead) Read(p []byte) (int, error) {
	for len(a.cur) == 0 {
		if a.err != nil {
			return 0, a.err
		}
		if a.buf != nil {
			select {
			case a.free <- a.buf[:cap(a.buf)]:
			default:
			}
			a.buf = nil
		}
		select {
		case c := <-a.chunks:
			a.cur, a.buf, a.err = c.b, c.b, c.err
		case <-a.done:
			a.err = errReadAheadClosed
		}
	}
	n := copy(p, a.cur)
	a.cur = a.cur[n:]
	return n, nil
}

// Close stops the reading goroutine once done with the read it may be in;
// Read fails after it.
func (a *readAhead) Close() error {
	a.close.Do(func() { close(a.done) })
	return nil
}
