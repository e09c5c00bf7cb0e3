package tracedat

import (
	"bytes"
	"container/heap"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/ftrace"
	"github.com/gpuwatch/gpuwatch/internal/tracepoint"
)

// Source decodes the scheduler events of a trace.dat file: every
// buffer's (instance's) per-CPU ring-buffer pages, decoded through the
// event formats stored in the file (ParseFormat, DecodePage and Decoder,
// as the live source), merged in timestamp order with one page per CPU in
// memory.
type Source struct {
	f       *File
	dec     *ftrace.Decoder
	layout  ftrace.PageLayout
	header  ftrace.HeaderEvent
	cursors []*cpuCursor
	h       cpuHeap
	started bool
	comms   map[int32]string
	stats   Stats
}

// Stats counts what was read from a trace.dat.
type Stats struct {
	Pages   uint64 // ring-buffer pages read
	Records uint64 // records in them
	Events  uint64 // records of known scheduler events
	Unknown uint64 // records of other events
	Lost    uint64 // events the kernel reported lost (pages flagged as missing events)
	// LostUnknown counts flagged pages whose lost count the kernel did not store.
	LostUnknown uint64
	// Buffers are the instances read ("" is the top instance).
	Buffers []string
}

type cpuCursor struct {
	pr     *PageReader
	cpu    int32
	buffer string
	evs    []event.Event // decoded events of the current page
	i      int
	done   bool
	start  int64 // the first page's time, 0 before it is read
}

// OpenSource prepares decoding f. It fails when the file holds none of the
// scheduler events gpuwatch follows.
func OpenSource(f *File) (*Source, error) {
	if f.ByteOrder != binary.LittleEndian {
		return nil, fmt.Errorf("%s: big-endian trace.dat is not supported", f.Name)
	}
	d := &Source{f: f, comms: map[int32]string{}}
	var err error
	if d.layout, err = ftrace.ParseHeaderPage(bytes.NewReader(f.HeaderPage)); err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name, err)
	}
	if d.header, err = ftrace.ParseHeaderEvent(bytes.NewReader(f.HeaderEvent)); err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name, err)
	}
	var formats []*ftrace.Format
	for _, ft := range f.Formats {
		if ft.System == "ftrace" {
			continue
		}
		// Only the events gpuwatch follows are parsed (a file holds the
		// formats of every event of the kernel).
		if !knownSystem(ft.System) {
			continue
		}
		lf, err := ftrace.ParseFormat(bytes.NewReader(ft.Text))
		if err != nil {
			return nil, fmt.Errorf("%s: reading format of %s: %w", f.Name, ft.System, err)
		}
		lf.System = ft.System
		if _, ok := tracepoint.Lookup(ft.System, lf.Name); !ok {
			continue
		}
		formats = append(formats, lf)
	}
	if len(formats) == 0 {
		return nil, fmt.Errorf("%s: no GPU scheduler events in this trace.dat (record gpu_scheduler, gpu_sched, amdgpu or dma_fence events)", f.Name)
	}
	d.dec = ftrace.NewDecoder(formats)
	for _, line := range bytes.Split(f.Cmdlines, []byte("\n")) {
		pid, comm, ok := bytes.Cut(bytes.TrimSpace(line), []byte(" "))
		if !ok {
			continue
		}
		if n, err := strconv.ParseInt(string(pid), 10, 32); err == nil {
			d.comms[int32(n)] = string(comm)
		}
	}
	for i := range f.Buffers {
		b := &f.Buffers[i]
		if b.Latency {
			continue
		}
		d.stats.Buffers = append(d.stats.Buffers, b.Name)
		for _, c := range b.CPUs {
			d.cursors = append(d.cursors, &cpuCursor{pr: f.Pages(b, c), cpu: int32(c.CPU), buffer: b.Name})
		}
	}
	return d, nil
}

// Stats reports what was read so far.
func (d *Source) Stats() Stats { return d.stats }

// CPUStarts returns, once Next was called, the time of each CPU
// buffer's first page (one entry per CPU and instance that has pages):
// the time from which that buffer's events are complete.
func (d *Source) CPUStarts() []int64 {
	var out []int64
	for _, c := range d.cursors {
		if c.start != 0 {
			out = append(out, c.start)
		}
	}
	return out
}

// fill decodes c's next non-empty page; it marks c done at the end.
func (d *Source) fill(c *cpuCursor) error {
	c.evs, c.i = c.evs[:0], 0
	for len(c.evs) == 0 {
		page, err := c.pr.Next()
		if err == io.EOF {
			c.done = true
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", d.f.Name, err)
		}
		d.stats.Pages++
		var ev event.Event
		info, err := ftrace.DecodePage(d.layout, d.header, page, func(ts uint64, rec []byte) {
			d.stats.Records++
			// A record shorter than its format still yields its event,
			// with what it holds (err); only unknown ids are skipped.
			if ok, _ := d.dec.Decode(ts, int(c.cpu), rec, &ev); !ok {
				d.stats.Unknown++
				return
			}
			d.stats.Events++
			ev.Comm = d.comms[ev.PID]
			c.evs = append(c.evs, ev)
		})
		if err != nil {
			return fmt.Errorf("%s: cpu %d page %d: %w", d.f.Name, c.cpu, d.stats.Pages, err)
		}
		if c.start == 0 {
			c.start = int64(info.Timestamp)
		}
		if info.Missed {
			lost := event.Event{Time: int64(info.Timestamp), CPU: c.cpu, Kind: event.KindLost, JobCount: -1, HWJobCount: -1}
			if info.LostKnown {
				lost.Count = info.Lost
				d.stats.Lost = event.AddCount(d.stats.Lost, info.Lost)
			} else {
				d.stats.LostUnknown++
			}
			c.evs = append([]event.Event{lost}, c.evs...)
		}
	}
	return nil
}

// Next returns the next event in time order, io.EOF at the end.
func (d *Source) Next() (event.Event, error) {
	if !d.started {
		d.started = true
		for _, c := range d.cursors {
			if err := d.fill(c); err != nil {
				return event.Event{}, err
			}
			if !c.done {
				d.h = append(d.h, c)
			}
		}
		heap.Init(&d.h)
	}
	if len(d.h) == 0 {
		return event.Event{}, io.EOF
	}
	c := d.h[0]
	ev := c.evs[c.i]
	c.i++
	if c.i == len(c.evs) {
		if err := d.fill(c); err != nil {
			return event.Event{}, err
		}
		if c.done {
			heap.Pop(&d.h)
			return ev, nil
		}
	}
	heap.Fix(&d.h, 0)
	return ev, nil
}

// cpuHeap orders cursors by their next event's time, then CPU (as
// trace-cmd report does).
type cpuHeap []*cpuCursor

func (h cpuHeap) Len() int { return len(h) }
func (h cpuHeap) Less(i, j int) bool {
	a, b := h[i].evs[h[i].i], h[j].evs[h[j].i]
	if a.Time != b.Time {
		return a.Time < b.Time
	}
	return h[i].cpu < h[j].cpu
}
func (h cpuHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *cpuHeap) Push(x any)   { *h = append(*h, x.(*cpuCursor)) }
func (h *cpuHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// knownSystem reports whether any known tracepoint is in system.
func knownSystem(system string) bool {
	for i := range tracepoint.Known {
		if tracepoint.Known[i].System == system {
			return true
		}
	}
	return false
}
