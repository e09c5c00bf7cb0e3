package ftrace

import (
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/tracepoint"
)

// Decoder turns ring-buffer records into events through each event's
// format file and its Spec (Known table). It is not safe for concurrent
// use: it interns ring names.
type Decoder struct {
	byID             []*decEvent // indexed by event id
	typeOff, typeLen int
	pidOff           int
	strs             map[string]string
	hex              [16]byte // a const char * ring's address as text
}

type decEvent struct {
	name                          string
	kind                          event.Kind
	ring                          *Field
	ringPtr                       bool // ring is a pointer (decPointer)
	driver                        *Field
	fence, ctx, seqno, id, entity *Field
	jobCount, hwJobCount          *Field
	// filter, when set, restricts this mapping to records whose filter
	// field equals filterValue; next is the following mapping of the same
	// tracepoint.
	filter      *Field
	filterValue uint64
	next        *decEvent
}

// Mapping maps a tracepoint onto the event model. Spec gives the event's
// name and kind and, by field name in the tracepoint's format, where each
// model field is; System and Event name the tracepoint itself (for the
// Known table they are Spec's own). Filter, when set, names an integer
// field: the mapping applies only to records in which it equals
// FilterValue, so several mappings can share one tracepoint. (This is how
// tests map a real tracepoint whose fields they control onto scheduler
// events, the same way for the tracefs and the eBPF source.)
type Mapping struct {
	System, Event string
	Spec          tracepoint.Spec
	Filter        string
	FilterValue   uint64
}

// NewDecoder builds a decoder for the formats that have a Spec in the
// Known table (looked up by System and Name); the others are skipped, and
// their records decode to ok=false. The Format's System must be set.
func NewDecoder(formats []*Format) *Decoder {
	var maps []Mapping
	for _, f := range formats {
		if f == nil {
			continue
		}
		if s, ok := tracepoint.Lookup(f.System, f.Name); ok {
			maps = append(maps, Mapping{System: f.System, Event: f.Name, Spec: *s})
		}
	}
	return NewDecoderMappings(formats, maps)
}

// NewDecoderMappings builds a decoder for explicit mappings; formats are
// those of the mapped tracepoints (others are skipped).
func NewDecoderMappings(formats []*Format, maps []Mapping) *Decoder {
	d := &Decoder{typeOff: 0, typeLen: 2, pidOff: 4, strs: map[string]string{}}
	for _, f := range formats {
		if f == nil {
			continue
		}
		if ct, ok := f.Field("common_type"); ok && (ct.Size == 2 || ct.Size == 4) {
			d.typeOff, d.typeLen = ct.Offset, ct.Size
		}
		if cp, ok := f.Field("common_pid"); ok && cp.Size == 4 {
			d.pidOff = cp.Offset
		}
		get := func(n string) *Field {
			fd, ok := f.Field(n)
			if !ok {
				return nil
			}
			return fd
		}
		for i := range maps {
			m := &maps[i]
			if m.System != f.System || m.Event != f.Name {
				continue
			}
			s := &m.Spec
			for int(f.ID) >= len(d.byID) {
				d.byID = append(d.byID, nil)
			}
			e := &decEvent{
				name: s.Name(), kind: s.Kind,
				ring: get(s.Ring), driver: get(s.Driver),
				fence: get(s.Fence), ctx: get(s.Context), seqno: get(s.Seqno),
				id: get(s.ID), entity: get(s.Entity),
				jobCount: get(s.JobCount), hwJobCount: get(s.HWJobCount),
			}
			e.ringPtr = e.ring != nil && decPointer(e.ring)
			if m.Filter != "" {
				e.filter, e.filterValue = get(m.Filter), m.FilterValue
				if e.filter == nil {
					continue // no such field: the mapping matches nothing
				}
			}
			// Append, keeping the mappings' order.
			pp := &d.byID[f.ID]
			for *pp != nil {
				pp = &(*pp).next
			}
			*pp = e
		}
	}
	return d
}

// Known reports whether the decoder maps event id to an event.
func (d *Decoder) Known(id uint16) bool { return int(id) < len(d.byID) && d.byID[id] != nil }

// Decode fills ev from one record (as DecodePage hands it out). ok is
// false for an event id the decoder does not know; err is set when the
// record is shorter than its format says (ev is then partly filled).
// Comm is left "".
func (d *Decoder) Decode(ts uint64, cpu int, rec []byte, ev *event.Event) (ok bool, err error) {
	if d.typeOff+d.typeLen > len(rec) {
		return false, fmt.Errorf("record of %d bytes has no common_type", len(rec))
	}
	var id uint16
	if d.typeLen == 2 {
		id = binary.LittleEndian.Uint16(rec[d.typeOff:])
	} else {
		id = uint16(binary.LittleEndian.Uint32(rec[d.typeOff:]))
	}
	if int(id) >= len(d.byID) || d.byID[id] == nil {
		return false, nil
	}
	e := d.byID[id]
	for e != nil && e.filter != nil {
		if v, ok := decUint(rec, e.filter); ok && v == e.filterValue {
			break
		}
		e = e.next
	}
	if e == nil {
		return false, nil
	}
	*ev = event.Event{Time: int64(ts), CPU: int32(cpu), Kind: e.kind, Name: e.name, JobCount: -1, HWJobCount: -1}
	if d.pidOff+4 <= len(rec) {
		ev.PID = int32(binary.LittleEndian.Uint32(rec[d.pidOff:]))
	}
	short := false
	u := func(f *Field) uint64 {
		v, ok := decUint(rec, f)
		if !ok && f != nil {
			short = true
		}
		return v
	}
	if e.ring != nil {
		var b []byte
		ok := true
		if e.ringPtr {
			// The text is in the kernel, not the record: the name is
			// the address, as trace-cmd prints it (see decPointer).
			var v uint64
			v, ok = decUint(rec, e.ring)
			b = strconv.AppendUint(d.hex[:0], v, 16)
		} else {
			b, ok = decString(rec, e.ring)
		}
		if !ok {
			short = true
		}
		ev.Ring = d.intern(b)
	}
	if e.driver != nil {
		b, ok := decString(rec, e.driver)
		if !ok {
			short = true
		}
		ev.Driver = d.intern(b)
	}
	ev.Job.Fence = u(e.fence)
	ev.Job.Context = u(e.ctx)
	ev.Job.Seqno = u(e.seqno)
	ev.ID = u(e.id)
	ev.Entity = u(e.entity)
	if e.jobCount != nil {
		ev.JobCount = int32(u(e.jobCount))
	}
	if e.hwJobCount != nil {
		ev.HWJobCount = int32(u(e.hwJobCount))
	}
	if short {
		return true, fmt.Errorf("%s record of %d bytes is shorter than its format", e.name, len(rec))
	}
	return true, nil
}

func (d *Decoder) intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s, ok := d.strs[string(b)]; ok { // no allocation on lookup
		return s
	}
	s := string(b)
	if len(d.strs) < 4096 {
		d.strs[s] = s
	}
	return s
}

// decUint reads an integer field of size 1, 2, 4 or 8, sign-extended when
// the field is signed.
func decUint(rec []byte, f *Field) (uint64, bool) {
	if f == nil || f.Offset+f.Size > len(rec) {
		return 0, false
	}
	le := binary.LittleEndian
	b := rec[f.Offset:]
	switch f.Size {
	case 1:
		if f.Signed {
			return uint64(int64(int8(b[0]))), true
		}
		return uint64(b[0]), true
	case 2:
		if f.Signed {
			return uint64(int64(int16(le.Uint16(b)))), true
		}
		return uint64(le.Uint16(b)), true
	case 4:
		if f.Signed {
			return uint64(int64(int32(le.Uint32(b)))), true
		}
		return uint64(le.Uint32(b)), true
	case 8:
		return le.Uint64(b), true
	}
	return 0, false
}

// decPointer reports whether a string field is a pointer ("const char *",
// as the ring name of gpu_sched:amd_sched_job (≤ 4.15) and of the first
// drm_sched_job/drm_run_job): the record holds the address, the text stays
// in the kernel. trace-cmd (libtraceevent's print_str_arg: a field that is
// not an array and has the size of a long) prints such a field as the
// string trace_printk registered at that address, if any, else the address
// in hex ("%llx"); ring names are never trace_printk strings, so the
// decoders name the ring by its address the same way: the rings stay
// apart, and a trace.dat reads as its trace-cmd report does.
func decPointer(f *Field) bool {
	return !f.DataLoc && !f.RelLoc && f.ArrayLen == 0 && (f.Size == 8 || f.Size == 4)
}

// decString reads a string field: __data_loc, __rel_loc or a fixed char
// array, without its trailing NULs. A pointer (decPointer) has no text in
// the record: "", true.
func decString(rec []byte, f *Field) ([]byte, bool) {
	if f.Offset+f.Size > len(rec) {
		return nil, false
	}
	var b []byte
	switch {
	case f.DataLoc || f.RelLoc:
		if f.Size != 4 {
			return nil, false
		}
		v := binary.LittleEndian.Uint32(rec[f.Offset:])
		off, n := int(v&0xffff), int(v>>16)
		if f.RelLoc {
			off += f.Offset + f.Size
		}
		if off+n > len(rec) {
			return nil, false
		}
		b = rec[off : off+n]
	case f.ArrayLen > 0:
		b = rec[f.Offset : f.Offset+f.Size]
	default:
		return nil, true
	}
	for i, c := range b {
		if c == 0 {
			return b[:i], true
		}
	}
	return b, true
}
