package ftrace

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// PageLayout is the ring-buffer page header, from events/header_page:
//
//	field: u64 timestamp;	offset:0;	size:8;	signed:0;
//	field: local_t commit;	offset:8;	size:8;	signed:1;
//	field: int overwrite;	offset:8;	size:1;	signed:1;
//	field: char data;	offset:16;	size:4080;	signed:0;
//
// commit holds the number of data bytes; its high bits carry the
// missed-events flags (see DecodePage).
type PageLayout struct {
	TimestampOffset, TimestampSize int
	CommitOffset, CommitSize       int
	DataOffset, DataSize           int
}

// DefaultPageLayout is the 64-bit layout, used for fields header_page
// lacks.
var DefaultPageLayout = PageLayout{
	TimestampOffset: 0, TimestampSize: 8,
	CommitOffset: 8, CommitSize: 8,
	DataOffset: 16, DataSize: 4080,
}

// PageSize is the size of a whole page, header included.
func (l PageLayout) PageSize() int { return l.DataOffset + l.DataSize }

// ParseHeaderPage reads events/header_page (or the copy in a trace.dat
// file). A field the text lacks keeps its DefaultPageLayout value.
func ParseHeaderPage(r io.Reader) (PageLayout, error) {
	l := DefaultPageLayout
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(s, "field:") {
			continue
		}
		fd, err := fmtParseField(s)
		if err != nil {
			return l, fmt.Errorf("header_page line %d: %w", line, err)
		}
		switch fd.Name {
		case "timestamp":
			l.TimestampOffset, l.TimestampSize = fd.Offset, fd.Size
		case "commit":
			l.CommitOffset, l.CommitSize = fd.Offset, fd.Size
		case "data":
			l.DataOffset, l.DataSize = fd.Offset, fd.Size
		}
	}
	if err := sc.Err(); err != nil {
		return l, fmt.Errorf("header_page: %w", err)
	}
	if l.TimestampSize != 8 {
		return l, fmt.Errorf("header_page: timestamp size %d, expected 8", l.TimestampSize)
	}
	if l.CommitSize != 4 && l.CommitSize != 8 {
		return l, fmt.Errorf("header_page: commit size %d, expected 4 or 8", l.CommitSize)
	}
	if l.TimestampOffset+8 > l.DataOffset || l.CommitOffset+l.CommitSize > l.DataOffset {
		return l, fmt.Errorf("header_page: timestamp or commit beyond the data offset %d", l.DataOffset)
	}
	return l, nil
}

// HeaderEvent is the compressed event header, from events/header_event.
type HeaderEvent struct {
	TypeLenBits, TimeDeltaBits, ArrayBits uint
	Padding, TimeExtend, TimeStamp        uint32
	// DataMax is the largest type_len of a data record whose length is
	// type_len*4; type_len 0 stores the length in array[0].
	DataMax uint32
}

// DefaultHeaderEvent is what every kernel since 2.6.30 prints.
var DefaultHeaderEvent = HeaderEvent{
	TypeLenBits: 5, TimeDeltaBits: 27, ArrayBits: 32,
	Padding: 29, TimeExtend: 30, TimeStamp: 31, DataMax: 28,
}

// ParseHeaderEvent reads events/header_event. A line the text lacks keeps
// its DefaultHeaderEvent value.
func ParseHeaderEvent(r io.Reader) (HeaderEvent, error) {
	h := DefaultHeaderEvent
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' {
			continue
		}
		var err error
		switch {
		case strings.HasPrefix(s, "type_len"):
			h.TypeLenBits, err = parseBits(s)
		case strings.HasPrefix(s, "time_delta"):
			h.TimeDeltaBits, err = parseBits(s)
		case strings.HasPrefix(s, "array"):
			h.ArrayBits, err = parseBits(s)
		case strings.HasPrefix(s, "padding"):
			h.Padding, err = parseNum(s)
		case strings.HasPrefix(s, "time_extend"):
			h.TimeExtend, err = parseNum(s)
		case strings.HasPrefix(s, "time_stamp"):
			h.TimeStamp, err = parseNum(s)
		case strings.HasPrefix(s, "data max type_len"):
			h.DataMax, err = parseNum(s)
		}
		if err != nil {
			return h, fmt.Errorf("header_event line %d: %w", line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return h, fmt.Errorf("header_event: %w", err)
	}
	if h.TypeLenBits+h.TimeDeltaBits != 32 || h.TypeLenBits == 0 || h.TypeLenBits > 8 {
		return h, fmt.Errorf("header_event: type_len %d + time_delta %d bits, expected 32", h.TypeLenBits, h.TimeDeltaBits)
	}
	max := uint32(1)<<h.TypeLenBits - 1
	for _, v := range []uint32{h.Padding, h.TimeExtend, h.TimeStamp, h.DataMax} {
		if v > max || v == 0 {
			return h, fmt.Errorf("header_event: type %d out of range 1..%d", v, max)
		}
	}
	if h.DataMax >= h.Padding || h.DataMax >= h.TimeExtend || h.DataMax >= h.TimeStamp {
		return h, fmt.Errorf("header_event: data max type_len %d overlaps the special types", h.DataMax)
	}
	return h, nil
}

// parseBits reads "type_len    :    5 bits".
func parseBits(s string) (uint, error) {
	_, v, ok := strings.Cut(s, ":")
	f := strings.Fields(v)
	if !ok || len(f) != 2 || f[1] != "bits" {
		return 0, fmt.Errorf("expected NAME : N bits, got %q", s)
	}
	n, err := strconv.ParseUint(f[0], 10, 8)
	if err != nil {
		return 0, fmt.Errorf("expected NAME : N bits, got %q", s)
	}
	return uint(n), nil
}

// parseNum reads "padding     : type == 29" or "data max type_len  == 28".
func parseNum(s string) (uint32, error) {
	i := strings.LastIndex(s, "==")
	if i < 0 {
		return 0, fmt.Errorf("expected ... == N, got %q", s)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(s[i+2:]), 10, 8)
	if err != nil {
		return 0, fmt.Errorf("expected ... == N, got %q", s)
	}
	return uint32(n), nil
}
