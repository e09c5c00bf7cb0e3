package tracefs

// Binary decoding for the live source: event format files, the page
// header, and ring-buffer pages as trace_pipe_raw returns them. These are
// the live source's own minimal decoders (unexported, prefixed live) so it
// does not depend on the offline decoders' schedule; both read the layout
// from header_page/header_event and each event's format file, never from
// constants.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/gpuwatch/gpuwatch/internal/event"
)

// liveField is one field of an event format file.
type liveField struct {
	Name    string
	Type    string // declaration without the name, e.g. "__data_loc char[]", "u64"
	Offset  int
	Size    int
	Signed  bool
	DataLoc bool // __data_loc: a u32 holding offset (low 16) and length (high 16)
	Array   bool // fixed-size array, e.g. char comm[16]
}

// liveFormat is an event's format file.
type liveFormat struct {
	System, Name string
	ID           uint16
	Fields       []liveField
}

func (f *liveFormat) field(name string) (*liveField, bool) {
	if name == "" {
		return nil, false
	}
	for i := range f.Fields {
		if f.Fields[i].Name == name {
			return &f.Fields[i], true
		}
	}
	return nil, false
}

// liveParseFormat reads an events/SYSTEM/EVENT/format file.
func liveParseFormat(r io.Reader, system string) (*liveFormat, error) {
	f := &liveFormat{System: system}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := 0
	haveID := false
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(s, "name:"):
			f.Name = strings.TrimSpace(s[len("name:"):])
		case strings.HasPrefix(s, "ID:"):
			id, err := strconv.ParseUint(strings.TrimSpace(s[len("ID:"):]), 10, 16)
			if err != nil {
				return nil, fmt.Errorf("line %d: bad ID: %w", line, err)
			}
			f.ID, haveID = uint16(id), true
		case strings.HasPrefix(s, "field:"):
			fd, err := liveParseField(s)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", line, err)
			}
			f.Fields = append(f.Fields, fd)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if !haveID {
		return nil, errors.New("no ID line")
	}
	return f, nil
}

// liveParseField parses "field:TYPE NAME;	offset:N;	size:N;	signed:N;".
func liveParseField(s string) (liveField, error) {
	var fd liveField
	parts := strings.Split(s, ";")
	if len(parts) < 3 {
		return fd, fmt.Errorf("expected field:..;offset:..;size:..; in %q", s)
	}
	decl := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(parts[0]), "field:"))
	// The name is the last identifier, before an optional [N].
	d := decl
	if i := strings.IndexByte(d, '['); i >= 0 && strings.HasSuffix(d, "]") {
		fd.Array = true
		d = strings.TrimSpace(d[:i])
	}
	i := strings.LastIndexAny(d, " *")
	if i < 0 {
		return fd, fmt.Errorf("no field name in %q", decl)
	}
	fd.Name = d[i+1:]
	fd.Type = strings.TrimSpace(decl[:i])
	fd.DataLoc = strings.HasPrefix(decl, "__data_loc") || strings.HasPrefix(decl, "__rel_loc")
	if fd.DataLoc {
		fd.Array = false
	}
	for _, p := range parts[1:] {
		p = strings.TrimSpace(p)
		k, v, ok := strings.Cut(p, ":")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fd, fmt.Errorf("bad %s in %q", k, s)
		}
		switch k {
		case "offset":
			fd.Offset = n
		case "size":
			fd.Size = n
		case "signed":
			fd.Signed = n != 0
		}
	}
	if fd.Size <= 0 {
		return fd, fmt.Errorf("field %s has no size", fd.Name)
	}
	return fd, nil
}

// livePageLayout is the ring-buffer page header, from events/header_page.
type livePageLayout struct {
	TimestampOff, CommitOff, CommitSize, DataOff int
	PageSize                                     int
}

// liveParseHeaderPage reads events/header_page.
func liveParseHeaderPage(r io.Reader) (livePageLayout, error) {
	var l livePageLayout
	sc := bufio.NewScanner(r)
	seen := map[string]bool{}
	for sc.Scan() {
		s := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(s, "field:") {
			continue
		}
		fd, err := liveParseField(s)
		if err != nil {
			return l, fmt.Errorf("header_page: %w", err)
		}
		if seen[fd.Name] {
			continue
		}
		seen[fd.Name] = true
		switch fd.Name {
		case "timestamp":
			l.TimestampOff = fd.Offset
		case "commit":
			l.CommitOff, l.CommitSize = fd.Offset, fd.Size
		case "data":
			l.DataOff, l.PageSize = fd.Offset, fd.Offset+fd.Size
		}
	}
	if err := sc.Err(); err != nil {
		return l, err
	}
	if !seen["timestamp"] || !seen["commit"] || !seen["data"] {
		return l, errors.New("header_page: expected timestamp, commit and data fields")
	}
	if l.CommitSize != 4 && l.CommitSize != 8 {
		return l, fmt.Errorf("header_page: commit size %d, expected 4 or 8", l.CommitSize)
	}
	return l, nil
}

// liveEventHeader holds the event header constants, from events/header_event.
type liveEventHeader struct {
	Padding, TimeExtend, TimeStamp, DataMax uint32
	TypeLenBits, DeltaBits                  uint
}

// liveParseHeaderEvent reads events/header_event.
func liveParseHeaderEvent(r io.Reader) (liveEventHeader, error) {
	h := liveEventHeader{}
	sc := bufio.NewScanner(r)
	var have int
	for sc.Scan() {
		s := strings.TrimSpace(sc.Text())
		num := func() (uint32, bool) {
			j := strings.LastIndexAny(s, "= :")
			n, err := strconv.ParseUint(strings.TrimSpace(s[j+1:]), 10, 32)
			return uint32(n), err == nil
		}
		bits := func() (uint, bool) {
			f := strings.Fields(strings.ReplaceAll(s, ":", " "))
			if len(f) >= 3 && f[2] == "bits" {
				n, err := strconv.Atoi(f[1])
				return uint(n), err == nil
			}
			return 0, false
		}
		var ok bool
		switch {
		case strings.HasPrefix(s, "type_len"):
			h.TypeLenBits, ok = bits()
		case strings.HasPrefix(s, "time_delta"):
			h.DeltaBits, ok = bits()
		case strings.HasPrefix(s, "padding"):
			h.Padding, ok = num()
		case strings.HasPrefix(s, "time_extend"):
			h.TimeExtend, ok = num()
		case strings.HasPrefix(s, "time_stamp"):
			h.TimeStamp, ok = num()
		case strings.HasPrefix(s, "data max type_len"):
			h.DataMax, ok = num()
		default:
			continue
		}
		if !ok {
			return h, fmt.Errorf("header_event: cannot read %q", s)
		}
		have++
	}
	if err := sc.Err(); err != nil {
		return h, err
	}
	if have < 6 || h.TypeLenBits+h.DeltaBits != 32 {
		return h, errors.New("header_event: expected type_len, time_delta, padding, time_extend, time_stamp and data max")
	}
	return h, nil
}

// Commit-field flags of a page read from the ring buffer
// (kernel/trace/ring_buffer.c RB_MISSED_EVENTS, RB_MISSED_STORED).
const (
	liveMissedEvents = 1 << 31
	liveMissedStored = 1 << 30
)

// liveRecordFn receives one record: its absolute timestamp and payload.
type liveRecordFn func(ts int64, rec []byte)

// livePageInfo is what a page says beyond its records.
type livePageInfo struct {
	Timestamp int64
	Missed    bool   // events were lost before this page
	Lost      uint64 // their number when the kernel stored it (MissedStored)
	LostKnown bool
	Records   int
}

// liveDecodePage walks one ring-buffer page.
func liveDecodePage(page []byte, l *livePageLayout, h *liveEventHeader, fn liveRecordFn) (livePageInfo, error) {
	var info livePageInfo
	le := binary.LittleEndian
	if len(page) < l.DataOff {
		return info, fmt.Errorf("page of %d bytes, shorter than its %d-byte header", len(page), l.DataOff)
	}
	ts := int64(le.Uint64(page[l.TimestampOff:]))
	info.Timestamp = ts
	var commit uint64
	if l.CommitSize == 8 {
		commit = le.Uint64(page[l.CommitOff:])
	} else {
		commit = uint64(le.Uint32(page[l.CommitOff:]))
	}
	flags := commit & (liveMissedEvents | liveMissedStored)
	size := int(commit &^ (liveMissedEvents | liveMissedStored) & 0xffffffff)
	data := page[l.DataOff:]
	if size > len(data) {
		return info, fmt.Errorf("page commit %d beyond its %d data bytes", size, len(data))
	}
	if flags&liveMissedEvents != 0 {
		info.Missed = true
		if flags&liveMissedStored != 0 && size+8 <= len(data) {
			info.Lost, info.LostKnown = le.Uint64(data[size:]), true
		}
	}
	data = data[:size]
	typeMask := uint32(1)<<h.TypeLenBits - 1
	for off := 0; off+4 <= len(data); {
		hdr := le.Uint32(data[off:])
		typ := hdr & typeMask
		delta := int64(hdr >> h.TypeLenBits)
		switch {
		case typ == h.Padding:
			if delta == 0 {
				return info, nil // the rest of the page is padding
			}
			if off+8 > len(data) {
				return info, fmt.Errorf("padding at %d overruns the page", off)
			}
			off += 4 + int(le.Uint32(data[off+4:]))
		case typ == h.TimeExtend:
			if off+8 > len(data) {
				return info, fmt.Errorf("time extend at %d overruns the page", off)
			}
			ts += int64(le.Uint32(data[off+4:]))<<h.DeltaBits + delta
			off += 8
		case typ == h.TimeStamp:
			if off+8 > len(data) {
				return info, fmt.Errorf("time stamp at %d overruns the page", off)
			}
			abs := int64(le.Uint32(data[off+4:]))<<h.DeltaBits | delta
			// The top bits are not stored: take them from the running time
			// (kernel rb_fix_abs_ts).
			const msb = uint64(0x1f) << 59
			ts = int64(uint64(abs) | uint64(ts)&msb)
			off += 8
		case typ == 0:
			if off+8 > len(data) {
				return info, fmt.Errorf("event at %d overruns the page", off)
			}
			n := int(le.Uint32(data[off+4:]))
			if n < 4 || off+4+n > len(data) {
				return info, fmt.Errorf("event at %d has bad length %d", off, n)
			}
			ts += delta
			fn(ts, data[off+8:off+4+n])
			info.Records++
			off += 4 + ((n + 3) &^ 3)
		case typ <= h.DataMax:
			n := int(typ) * 4
			if off+4+n > len(data) {
				return info, fmt.Errorf("event at %d overruns the page", off)
			}
			ts += delta
			fn(ts, data[off+4:off+4+n])
			info.Records++
			off += 4 + n
		default:
			return info, fmt.Errorf("unknown event type %d at %d", typ, off)
		}
	}
	return info, nil
}

// liveDecoder turns records into events through each event's format.
type liveDecoder struct {
	byID map[uint16]*liveEventDecoder
	// typeOff/typeSize locate common_type; pidOff common_pid.
	typeOff, pidOff int
}

type liveEventDecoder struct {
	name                          string
	kind                          event.Kind
	ring                          *liveField
	fence, ctx, seqno, id, entity *liveField
	jobCount, hwJobCount          *liveField
}

func newLiveDecoder(specs []*Spec, formats []*liveFormat) (*liveDecoder, error) {
	d := &liveDecoder{byID: map[uint16]*liveEventDecoder{}, typeOff: 0, pidOff: 4}
	for i, f := range formats {
		s := specs[i]
		if ct, ok := f.field("common_type"); ok {
			if ct.Size != 2 {
				return nil, fmt.Errorf("%s: common_type of size %d, expected 2", s.Name(), ct.Size)
			}
			d.typeOff = ct.Offset
		}
		if cp, ok := f.field("common_pid"); ok {
			d.pidOff = cp.Offset
		}
		ed := &liveEventDecoder{name: s.Name(), kind: s.Kind}
		get := func(n string) *liveField {
			fd, ok := f.field(n)
			if !ok {
				return nil
			}
			return fd
		}
		ed.ring = get(s.Ring)
		ed.fence, ed.ctx, ed.seqno = get(s.Fence), get(s.Context), get(s.Seqno)
		ed.id, ed.entity = get(s.ID), get(s.Entity)
		ed.jobCount, ed.hwJobCount = get(s.JobCount), get(s.HWJobCount)
		d.byID[f.ID] = ed
	}
	return d, nil
}

func liveUint(rec []byte, f *liveField) (uint64, bool) {
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

// liveString reads a string field: __data_loc or a fixed char array. A
// const char * field (the oldest kernels) points into the kernel and
// cannot be read: "".
func liveString(rec []byte, f *liveField) []byte {
	if f == nil || f.Offset+f.Size > len(rec) {
		return nil
	}
	var b []byte
	switch {
	case f.DataLoc:
		v := binary.LittleEndian.Uint32(rec[f.Offset:])
		off, n := int(v&0xffff), int(v>>16)
		if strings.HasPrefix(f.Type, "__rel_loc") {
			off += f.Offset + f.Size
		}
		if off+n > len(rec) {
			return nil
		}
		b = rec[off : off+n]
	case f.Array:
		b = rec[f.Offset : f.Offset+f.Size]
	default:
		return nil
	}
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}

// decode fills ev from one record; ok is false for records of events the
// decoder does not know. intern maps ring names to shared strings.
func (d *liveDecoder) decode(ts int64, cpu int32, rec []byte, ev *event.Event, intern func([]byte) string) bool {
	if d.typeOff+2 > len(rec) {
		return false
	}
	ed := d.byID[binary.LittleEndian.Uint16(rec[d.typeOff:])]
	if ed == nil {
		return false
	}
	*ev = event.Event{Time: ts, CPU: cpu, Kind: ed.kind, Name: ed.name, JobCount: -1, HWJobCount: -1}
	if d.pidOff+4 <= len(rec) {
		ev.PID = int32(binary.LittleEndian.Uint32(rec[d.pidOff:]))
	}
	if ed.ring != nil {
		ev.Ring = intern(liveString(rec, ed.ring))
	}
	ev.Job.Fence, _ = liveUint(rec, ed.fence)
	ev.Job.Context, _ = liveUint(rec, ed.ctx)
	ev.Job.Seqno, _ = liveUint(rec, ed.seqno)
	ev.ID, _ = liveUint(rec, ed.id)
	ev.Entity, _ = liveUint(rec, ed.entity)
	if v, ok := liveUint(rec, ed.jobCount); ok {
		ev.JobCount = int32(v)
	}
	if v, ok := liveUint(rec, ed.hwJobCount); ok {
		ev.HWJobCount = int32(v)
	}
	return true
}
