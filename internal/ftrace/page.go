package ftrace

import (
	"encoding/binary"
	"fmt"
)

// Flags in the high bits of a read page's commit field
// (kernel/trace/ring_buffer.c).
const (
	pageMissedEvents = 1 << 31 // RB_MISSED_EVENTS: events were lost before this page
	pageMissedStored = 1 << 30 // RB_MISSED_STORED: their count follows the data
	pageFlagMask     = pageMissedEvents | pageMissedStored
	// pageTSMSB is TS_MSB: the top bits of a time stamp that an absolute
	// time-stamp record does not store (ring_buffer.c rb_fix_abs_ts).
	pageTSMSB = uint64(0xf8) << 56
)

// PageInfo is what a page says beyond its records.
type PageInfo struct {
	// Timestamp is the page's base time.
	Timestamp uint64
	// Commit is the number of data bytes.
	Commit int
	// Missed: the kernel dropped events before this page (overwrite mode
	// or a full buffer). Lost is their number when the kernel stored it
	// (LostKnown); when it did not, callers should still report a loss.
	Missed, LostKnown bool
	Lost              uint64
	// Records counts data records, Discarded padding records that replace
	// discarded events, Extends time-extend and time-stamp records.
	Records, Discarded, Extends int
}

// PageError is a page that cannot be read past Offset (from the start of
// the page).
type PageError struct {
	Offset int
	Msg    string
}

func (e *PageError) Error() string { return fmt.Sprintf("page offset %d: %s", e.Offset, e.Msg) }

// DecodePage walks one ring-buffer page as trace_pipe_raw returns it or a
// trace.dat file stores it, calling fn with each data record's absolute
// timestamp and payload (rec aliases page). It never panics: a corrupt
// page yields a *PageError naming the offset, after fn has seen the
// records before it.
func DecodePage(layout PageLayout, h HeaderEvent, page []byte, fn func(ts uint64, rec []byte)) (PageInfo, error) {
	var info PageInfo
	le := binary.LittleEndian
	if len(page) < layout.DataOffset || layout.TimestampOffset+8 > len(page) || layout.CommitOffset+layout.CommitSize > len(page) {
		return info, &PageError{0, fmt.Sprintf("page of %d bytes, shorter than its %d-byte header", len(page), layout.DataOffset)}
	}
	ts := le.Uint64(page[layout.TimestampOffset:])
	info.Timestamp = ts
	// The kernel adds the flags to the signed local_t commit as ints:
	// RB_MISSED_EVENTS (1<<31) is negative and sign-extends into the high
	// half of a 64-bit commit. The flags and the size live in the low 32
	// bits (as libtraceevent reads them); a non-zero high half also means
	// events were missed.
	var commit uint32
	highSet := false
	if layout.CommitSize == 8 {
		c := le.Uint64(page[layout.CommitOffset:])
		commit, highSet = uint32(c), c>>32 != 0
	} else {
		commit = le.Uint32(page[layout.CommitOffset:])
	}
	flags := commit & pageFlagMask
	size := uint64(commit &^ pageFlagMask)
	data := page[layout.DataOffset:]
	if size > uint64(len(data)) {
		return info, &PageError{layout.CommitOffset, fmt.Sprintf("commit %d beyond the page's %d data bytes", size, len(data))}
	}
	info.Commit = int(size)
	if flags&pageMissedEvents != 0 || highSet {
		info.Missed = true
		// The count is stored only when it fits after the data.
		if flags&pageMissedStored != 0 && size+8 <= uint64(len(data)) {
			info.Lost, info.LostKnown = le.Uint64(data[size:]), true
		}
	}
	data = data[:size]
	base := layout.DataOffset
	typeMask := uint32(1)<<h.TypeLenBits - 1
	for off := 0; off < len(data); {
		if off+4 > len(data) {
			return info, &PageError{base + off, "truncated event header"}
		}
		hdr := le.Uint32(data[off:])
		typ := hdr & typeMask
		delta := uint64(hdr >> h.TypeLenBits)
		need8 := func(what string) error {
			if off+8 > len(data) {
				return &PageError{base + off, what + " overruns the page"}
			}
			return nil
		}
		switch {
		case typ == h.Padding:
			if delta == 0 {
				return info, nil // the rest of the page is padding
			}
			// A discarded event: array[0] is its length past the header.
			if err := need8("padding"); err != nil {
				return info, err
			}
			n := uint64(le.Uint32(data[off+4:]))
			if n < 4 || uint64(off)+4+n > uint64(len(data)) {
				return info, &PageError{base + off, fmt.Sprintf("padding of bad length %d", n)}
			}
			info.Discarded++
			off += 4 + int(n)
		case typ == h.TimeExtend:
			if err := need8("time extend"); err != nil {
				return info, err
			}
			ts += uint64(le.Uint32(data[off+4:]))<<h.TimeDeltaBits + delta
			info.Extends++
			off += 8
		case typ == h.TimeStamp:
			if err := need8("time stamp"); err != nil {
				return info, err
			}
			abs := uint64(le.Uint32(data[off+4:]))<<h.TimeDeltaBits | delta
			// rb_fix_abs_ts: the top bits come from the running time.
			if ts&pageTSMSB != 0 {
				abs |= ts & pageTSMSB
				if abs < ts {
					abs += 1 << 59
				}
			}
			ts = abs
			info.Extends++
			off += 8
		case typ == 0:
			if err := need8("event"); err != nil {
				return info, err
			}
			// array[0] is the length of the payload plus array[0] itself.
			n := uint64(le.Uint32(data[off+4:]))
			if n < 4 || uint64(off)+4+n > uint64(len(data)) {
				return info, &PageError{base + off, fmt.Sprintf("event of bad length %d", n)}
			}
			ts += delta
			fn(ts, data[off+8:off+4+int(n)])
			info.Records++
			off += 4 + int((n+3)&^3)
		case typ <= h.DataMax:
			n := int(typ) * 4
			if off+4+n > len(data) {
				return info, &PageError{base + off, fmt.Sprintf("event of %d bytes overruns the page", n)}
			}
			ts += delta
			fn(ts, data[off+4:off+4+n])
			info.Records++
			off += 4 + n
		default:
			return info, &PageError{base + off, fmt.Sprintf("unknown event type %d", typ)}
		}
	}
	return info, nil
}
