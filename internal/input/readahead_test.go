package input

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
	"testing/iotest"
	"time"
)

// TestReadAhead: the bytes of the reader it reads ahead of, whatever the
// chunk size and the reads' sizes (iotest.TestReader), then its error.
func TestReadAhead(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 100_000)
	for i := range data {
		data[i] = byte(rng.IntN(256))
	}
	for _, size := range []int{1, 7, 4096, 1 << 20} {
		for _, n := range []int{0, 1, size - 1, size, size + 1, len(data)} {
			if n < 0 || n > len(data) {
				continue
			}
			// OneByteReader: the reading goroutine gets short reads.
			ra := newReadAhead(iotest.OneByteReader(bytes.NewReader(data[:n])), size, 2)
			if err := iotest.TestReader(ra, data[:n]); err != nil {
				t.Errorf("chunks of %d, %d bytes: %v", size, n, err)
			}
			ra.Close()
		}
	}
	boom := errors.New("boom")
	ra := newReadAhead(io.MultiReader(bytes.NewReader(data), iotest.ErrReader(boom)), 4096, 2)
	defer ra.Close()
	got, err := io.ReadAll(ra)
	if !bytes.Equal(got, data) || err != boom {
		t.Errorf("before an error: %d bytes, error %v; want %d bytes, then boom", len(got), err, len(data))
	}
	if n, err := ra.Read(make([]byte, 10)); n != 0 || err != boom {
		t.Errorf("read after the error: %d, %v; want 0, boom", n, err)
	}
}

// TestReadAheadClose: Close stops the goroutine, even when it is blocked
// offering chunks nobody reads.
func TestReadAheadClose(t *testing.T) {
	before := runtime.NumGoroutine()
	endless := readerFunc(func(p []byte) (int, error) { return len(p), nil })
	ra := newReadAhead(endless, 16, 2)
	if _, err := io.ReadFull(ra, make([]byte, 40)); err != nil {
		t.Fatal(err)
	}
	ra.Close()
	ra.Close() // twice is fine
	// Read after Close fails rather than wait for chunks that will not
	// come: past what it holds (the rest of a chunk, and at most the
	// two the goroutine queued), the fourth read at the latest.
	var err error
	for i := 0; i < 4 && err == nil; i++ {
		_, err = ra.Read(make([]byte, 16))
	}
	if err != errReadAheadClosed {
		t.Errorf("read after Close: %v, want %v", err, errReadAheadClosed)
	}
	// The goroutine is blocked offering a chunk: Close must free it. The
	// deadline only bounds a failing run.
	for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > before; {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, %d before: the reading goroutine outlives Close", runtime.NumGoroutine(), before)
		}
		time.Sleep(time.Millisecond)
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// TestReadAheadKeepsErrors: the reader's errors pass as they are, a cut
// gzip stream's io.ErrUnexpectedEOF included (analyze reports the cut).
func TestReadAheadKeepsErrors(t *testing.T) {
	for _, want := range []error{io.EOF, io.ErrUnexpectedEOF, errors.New("boom")} {
		ra := newReadAhead(io.MultiReader(bytes.NewReader([]byte("abc")), iotest.ErrReader(want)), 16, 2)
		got, err := io.ReadAll(ra)
		if want == io.EOF {
			want = nil // ReadAll's way of saying EOF
		}
		if string(got) != "abc" || err != want {
			t.Errorf("%q, %v; want \"abc\", %v", got, err, want)
		}
		ra.Close()
	}
}
