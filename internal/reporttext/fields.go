package reporttext

import "github.com/gpuwatch/gpuwatch/internal/tracepoint"

// Dynamic trace events (uprobe, kprobe and eprobe events) print no printk
// format of their own: tracefs and trace-cmd show their fields as
// "(IP) name=value name="string" …". Events created under a scheduler
// event's name with its field names (as gpuwatch's live tests do, or a user
// probing a driver whose tracepoints are compiled out) are read through
// their Spec's field names.

// matchFields parses a name=value body for spec s into out. It
// accepts the body only when every token parses and the job key's fields
// are present, so a real tracepoint's malformed line is not mistaken for
// one.
func matchFields(s *tracepoint.Spec, body []byte, out *printkFields) bool {
	out.reset()
	b := trimSpace(body)
	// Optional probe address "(557d951f5610)" or "(func+0x0/0x10)".
	if len(b) > 0 && b[0] == '(' {
		i := 0
		for i < len(b) && b[i] != ')' {
			i++
		}
		if i == len(b) {
			return false
		}
		b = trimLeft(b[i+1:])
	}
	var haveFence, haveCtx, haveSeq bool
	for len(b) > 0 {
		eq := -1
		for i := 0; i < len(b) && b[i] != ' '; i++ {
			if b[i] == '=' {
				eq = i
				break
			}
		}
		if eq <= 0 {
			return false
		}
		key := b[:eq]
		b = b[eq+1:]
		var val []byte
		var num uint64
		isStr := len(b) > 0 && b[0] == '"'
		if isStr {
			end := 1
			for end < len(b) && b[end] != '"' {
				end++
			}
			if end == len(b) {
				return false
			}
			val, b = b[1:end], b[end+1:]
		} else {
			end := 0
			for end < len(b) && b[end] != ' ' {
				end++
			}
			val, b = b[:end], b[end:]
			neg := len(val) > 0 && val[0] == '-'
			digits := val
			if neg {
				digits = val[1:]
			}
			var n int
			if len(digits) > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X') {
				num, n = parseHex(digits[2:])
				n += 2
			} else {
				num, n = parseUint(digits)
			}
			if n == 0 || n != len(digits) {
				return false
			}
			if neg {
				num = uint64(-int64(num))
			}
		}
		b = trimLeft(b)
		switch string(key) {
		case "":
		case s.Ring:
			out.ring = val
			continue
		case s.Driver:
			out.driver = val
			continue
		}
		if isStr {
			continue // other string fields carry nothing the model needs
		}
		switch string(key) {
		case s.Fence:
			out.v[roleFence], haveFence = num, true
		case s.Context:
			out.v[roleContext], haveCtx = num, true
		case s.Seqno:
			out.v[roleSeqno], haveSeq = num, true
		case s.ID:
			out.v[roleID] = num
		case s.Entity:
			out.v[roleEntity] = num
		case s.JobCount:
			out.v[roleJobCount] = num
		case s.HWJobCount:
			out.v[roleHWJobCount] = num
		}
	}
	return haveFence || (haveCtx && haveSeq)
}
