package tracedat

import (
	"bytes"
	"io"
	"os"
	"sort"
	"testing"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/ftrace"
)

// TestDecodeTraceDat: the pages of a real trace.dat (recorded from the
// livetest uprobe events and checked against trace-cmd report in
// dat_test.go) decode with DecodePage and Decoder, using the
// header_page/header_event/format texts stored in the file, to the same
// events as OpenSource yields.
func TestDecodeTraceDat(t *testing.T) {
	const path = "../../testdata/traces/uprobe-drm-pattern.dat"
	open := func() *File {
		fh, err := os.Open(path)
		if err != nil {
			t.Skip(err)
		}
		t.Cleanup(func() { fh.Close() })
		fi, _ := fh.Stat()
		f, err := Open(fh, fi.Size(), path)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	f := open()
	l, err := ftrace.ParseHeaderPage(bytes.NewReader(f.HeaderPage))
	if err != nil {
		t.Fatal(err)
	}
	h, err := ftrace.ParseHeaderEvent(bytes.NewReader(f.HeaderEvent))
	if err != nil {
		t.Fatal(err)
	}
	var fs []*ftrace.Format
	for _, ft := range f.Formats {
		if ft.System != "gpu_scheduler" {
			continue
		}
		fm, err := ftrace.ParseFormat(bytes.NewReader(ft.Text))
		if err != nil {
			t.Fatalf("format of %s: %v", ft.System, err)
		}
		fm.System = ft.System
		fs = append(fs, fm)
	}
	dec := ftrace.NewDecoder(fs)
	var mine []event.Event
	for i := range f.Buffers {
		b := &f.Buffers[i]
		if b.Latency {
			continue
		}
		for _, c := range b.CPUs {
			pr := f.Pages(b, c)
			for {
				page, err := pr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if _, err := ftrace.DecodePage(l, h, page, func(ts uint64, rec []byte) {
					var ev event.Event
					if ok, err := dec.Decode(ts, c.CPU, rec, &ev); ok && err == nil {
						mine = append(mine, ev)
					} else if err != nil {
						t.Error(err)
					}
				}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	src, err := OpenSource(open())
	if err != nil {
		t.Fatal(err)
	}
	var theirs []event.Event
	if err := event.Drain(src, func(ev event.Event) { ev.Comm = ""; theirs = append(theirs, ev) }); err != nil {
		t.Fatal(err)
	}
	key := func(evs []event.Event) {
		sort.SliceStable(evs, func(i, j int) bool {
			if evs[i].Time != evs[j].Time {
				return evs[i].Time < evs[j].Time
			}
			return evs[i].CPU < evs[j].CPU
		})
	}
	key(mine)
	key(theirs)
	if len(mine) == 0 || len(mine) != len(theirs) {
		t.Fatalf("decoded %d events, OpenSource %d", len(mine), len(theirs))
	}
	for i := range mine {
		if mine[i] != theirs[i] {
			t.Fatalf("event %d:\n mine   %+v\n OpenSource %+v", i, mine[i], theirs[i])
		}
	}
}
