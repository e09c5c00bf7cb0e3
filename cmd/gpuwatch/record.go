package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"syscall"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/live"
	"github.com/gpuwatch/gpuwatch/internal/reporttext"
	"github.com/gpuwatch/gpuwatch/internal/tracepoint"
)

// openRecordFile creates the --record file. It never follows a symlink
// (as root, a link another user left would redirect the write), refuses
// an existing file unless force, and refuses the replay input itself
// (which truncating would destroy) even with force.
func openRecordFile(path, replay string, force bool) (*os.File, error) {
	if replay != "" {
		if ri, err := os.Stat(replay); err == nil {
			if wi, err := os.Lstat(path); err == nil && os.SameFile(ri, wi) {
				return nil, fmt.Errorf("--record %s: it is the --replay input: refusing to overwrite it", path)
			}
		}
	}
	flags := os.O_WRONLY | os.O_CREATE | syscall.O_NOFOLLOW
	if force {
		flags |= os.O_TRUNC
	} else {
		flags |= os.O_EXCL
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("--record %s: is a symbolic link: refusing to follow it", path)
	}
	f, err := os.OpenFile(path, flags, 0o644)
	switch {
	case errors.Is(err, fs.ErrExist):
		return nil, fmt.Errorf("--record %s: the file exists (--force overwrites it)", path)
	case errors.Is(err, syscall.ELOOP):
		return nil, fmt.Errorf("--record %s: is a symbolic link: refusing to follow it", path)
	case err != nil:
		return nil, fmt.Errorf("--record: %w", err)
	}
	return f, nil
}

// recordingSource tees every event to a report text writer. The first
// write error is reported at once, through onErr, and ends the recording;
// the source goes on.
type recordingSource struct {
	src   event.Source
	path  string
	f     *os.File
	w     *reporttext.Writer
	onErr func(error)

	mu  sync.Mutex
	err error // the first write error: recording stopped
}

func newRecordingSource(src event.Source, f *os.File, path string, gen tracepoint.Generation, cpus int) *recordingSource {
	return &recordingSource{src: src, path: path, f: f,
		w: reporttext.NewWriter(f, reporttext.WriterOptions{Gen: gen, Nanoseconds: true, CPUs: cpus})}
}

func (r *recordingSource) Next() (event.Event, error) {
	ev, err := r.src.Next()
	if err == nil && r.err == nil {
		if werr := r.w.Write(ev); werr != nil {
			r.fail(werr)
		}
	}
	return ev, err
}

// fail stops the recording at its first error and reports it once.
func (r *recordingSource) fail(err error) {
	r.mu.Lock()
	first := r.err == nil
	if first {
		r.err = fmt.Errorf("--record %s: %w: recording stopped", r.path, err)
	}
	r.mu.Unlock()
	if first && r.onErr != nil {
		r.onErr(r.err)
	}
}

// finish flushes and closes the file; it returns whether the recording's
// error was reported already (by onErr), and the error.
func (r *recordingSource) finish() (reported bool, err error) {
	if r.err == nil {
		if ferr := r.w.Flush(); ferr != nil {
			r.fail(ferr)
		}
	}
	if cerr := r.f.Close(); cerr != nil && r.err == nil {
		r.fail(cerr)
	}
	return r.onErr != nil, r.err
}

// source is r as the runner should see it: with the wrapped source's
// clock and stop when it has them, without when it has not (so the runner
// neither advances the engine to 0 nor waits for a drain that never ends).
func (r *recordingSource) source() event.Source { return live.Forward(r.src, r) }
