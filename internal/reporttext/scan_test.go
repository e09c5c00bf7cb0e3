package reporttext

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// The word-at-a-time scanners of the text reader against plain byte
// loops, on random text biased towards their edges: hex digits of both
// cases next to the bytes just outside the ranges ('/', ':', '@', 'G',
// '`', 'g'), bytes with the high bit set, and every length and offset.

func refParseHex(b []byte) (uint64, int) {
	var v uint64
	for i, c := range b {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return v, i
		}
		if v>>60 != 0 {
			return 0, -1
		}
		v = v<<4 | uint64(d)
	}
	return v, len(b)
}

func randScanText(rng *rand.Rand, n int) []byte {
	const alphabet = "0123456789abcdefABCDEF/:@G`gxX ,\x80\xb0\xe6\xff"
	b := make([]byte, n)
	for i := range b {
		if rng.IntN(4) > 0 {
			b[i] = "0123456789abcdefABCDEF"[rng.IntN(22)]
		} else {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
	}
	return b
}

func TestTextParseHexMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for range 200000 {
		b := randScanText(rng, rng.IntN(40))
		v, n := parseHex(b)
		wv, wn := refParseHex(b)
		if v != wv || n != wn {
			t.Fatalf("parseHex(%q) = %#x, %d; want %#x, %d", b, v, n, wv, wn)
		}
	}
	for _, s := range []string{"ffff9a3b4000f600", "FFFF9A3B4000F600 ", "ffffffffffffffff", "1ffffffffffffffff", "0000000000000000000000001", "deadbeef", "deadbeeg"} {
		v, n := parseHex([]byte(s))
		wv, wn := refParseHex([]byte(s))
		if v != wv || n != wn {
			t.Errorf("parseHex(%q) = %#x, %d; want %#x, %d", s, v, n, wv, wn)
		}
	}
	for range 200000 {
		b := randScanText(rng, 16)
		v, ok := hex16(b)
		wv, wn := refParseHex(b)
		if ok != (wn == 16) || ok && v != wv {
			t.Fatalf("hex16(%q) = %#x, %v; want %#x, %v", b, v, ok, wv, wn == 16)
		}
	}
	if v, n := parseHex([]byte("ffff9a3b4000f600,")); v != 0xffff9a3b4000f600 || n != 16 {
		t.Errorf("pointer: %#x, %d", v, n)
	}
}

func TestTextLitMatchesHasPrefix(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	lits := []string{"", ",", ", id=", "entity=", ", fence=", ", ring=", ", job count:", ", hw job count:", " signaled", "0123456789abcdefX", strconv.Itoa(12345678)}
	for range 100000 {
		s := lits[rng.IntN(len(lits))]
		l := newTextLit(s)
		b := randScanText(rng, rng.IntN(24))
		pos := rng.IntN(len(b) + 1)
		if rng.IntN(2) == 0 && pos <= len(b) {
			// plant the literal, maybe cut short
			b = append(b[:pos:pos], s[:rng.IntN(len(s)+1)]...)
			b = append(b, randScanText(rng, rng.IntN(20))...)
		}
		if got, want := l.at(b, pos), bytes.HasPrefix(b[pos:], []byte(s)); got != want {
			t.Fatalf("printkLit(%q).at(%q, %d) = %v, want %v", s, b, pos, got, want)
		}
	}
}

func TestTextParseUintMatchesStrconv(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for range 100000 {
		n := rng.IntN(24)
		b := make([]byte, n)
		for i := range b {
			b[i] = '0' + byte(rng.IntN(10))
			if rng.IntN(30) == 0 {
				b[i] = "/:a \xff"[rng.IntN(5)]
			}
		}
		if rng.IntN(8) == 0 {
			b = append(b, "18446744073709551615"[:rng.IntN(21)]...)
		}
		digits := 0
		for digits < len(b) && b[digits] >= '0' && b[digits] <= '9' {
			digits++
		}
		want, err := strconv.ParseUint(string(b[:digits]), 10, 64)
		wn := digits
		if err != nil {
			want, wn = 0, 0
		}
		if v, n := parseUint(b); v != want || n != wn {
			t.Fatalf("parseUint(%q) = %d, %d; want %d, %d", b, v, n, want, wn)
		}
	}
}

// FuzzSplitFast: where the front-to-back split of the common line shape
// succeeds, the general scan splits the line the same way and
// parseTime reads the same time.
func FuzzSplitFast(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	for _, s := range []string{
		"kworker/u8:2-187   [001]  1437.000027: drm_sched_job: entity=0x1, id=2",
		"x-1 [0] 2.5: y-9 [001] 3.0: name: body",
		"a [1] b-5 [000] 1.5: n: body",
		"inst: comm-5 [000] 1.000001: n: b",
		"comm-5 (  5) [000] 1.000001: n: b",
		"comm-5 [000] d..2. 1.000001: n: b",
		"comm-5 [000]\t1.000001: n: b",
		"-5 [000] 1.000001: n: b",
		"c-2147483648 [000] 1.000001: n: b",
		"c-5 [00000001] 1.000001: n: b",
		"c-5 [000] 9999999999.000001: n: b",
		"c-5 [000] 1.0000000001: n: b",
		"c-5 [000] 1.5:n: b",
		"c-5 [000] 1.5:",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		b := trimSpace([]byte(line))
		var fast, scan eventLine
		i, ok := splitFast(b, &fast)
		if !ok {
			return
		}
		okFast := splitName(b, i, &fast)
		okScan := splitScan(b, &scan)
		if okFast != okScan {
			t.Fatalf("%q: fast split %v, general %v", b, okFast, okScan)
		}
		if !okFast {
			return
		}
		r := &Reader{}
		ns, okT := r.parseTime(fast.time)
		wantDigits := 0 // parseTime keeps only 6 and 9 as the unit
		if fast.fracLen == 6 || fast.fracLen == 9 {
			wantDigits = int(fast.fracLen)
		}
		if !okT || ns != fast.ns || r.fracDigits != wantDigits {
			t.Fatalf("%q: fast time %d (%d digits), parseTime %d %v (fracDigits %d)", b, fast.ns, fast.fracLen, ns, okT, r.fracDigits)
		}
		fast.timed, fast.fracLen, fast.ns = false, 0, 0
		if !reflect.DeepEqual(fast, scan) {
			t.Fatalf("%q:\nfast    %+v\ngeneral %+v", b, fast, scan)
		}
	})
}

// TestSplitFastTakesCommonLines: the lines trace-cmd and tracefs print
// most take the fast split (else FuzzSplitFast would check little).
func TestSplitFastTakesCommonLines(t *testing.T) {
	for _, s := range []string{
		"          <idle>-0     [000]  1437.000003: drm_sched_process_job: fence=0xffff9a3b4000f600 signaled",
		"    kworker/u8:2-187   [001]  1437.000027: drm_sched_job:        entity=0xffff88812c4a2000, id=248",
		"         glmark2-2211  [001]  1437.050714: drm_run_job: entity=0xffff88812c4a0000, id=169",
		"  gpuwatch-fire-4242  [003]  12.345678901: drm_sched_job_done: fence=0xffff9a3b4000f600",
	} {
		var ln eventLine
		b := trimSpace([]byte(s))
		if _, ok := splitFast(b, &ln); !ok {
			t.Errorf("%q: not taken by the fast split", s)
		}
	}
}

// checkHeadsSplit splits each line of text with one lineHeads, in order,
// and checks that it gives splitFast's result.
func checkHeadsSplit(t *testing.T, text string) {
	t.Helper()
	var c lineHeads
	for _, raw := range strings.Split(text, "\n") {
		line := trimRight([]byte(raw))
		b := trimLeft(line)
		var got, want eventLine
		gi, gok := c.split(line, len(line)-len(b), &got)
		wi, wok := splitFast(b, &want)
		if gi != wi || gok != wok || !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\nremembered heads %d %v %+v\ntextSplitFast    %d %v %+v", b, gi, gok, got, wi, wok, want)
		}
	}
}

// FuzzHeadsSplit: the remembered heads split every line of a sequence as
// splitFast does, whatever came before.
func FuzzHeadsSplit(f *testing.F) {
	f.Add(strings.Join([]string{
		"          <idle>-0     [000]  1437.000003: drm_sched_process_job: fence=0xffff9a3b4000f600 signaled",
		"           sdma0-301   [001]  1437.000008: drm_run_job:          entity=0xffff88812c4a2000, id=246",
		"          <idle>-0     [000]  1437.000103: drm_sched_process_job: fence=0xffff9a3b4000f6c0 signaled",
		"          <idle>-0     [000]  1437.00010x: drm_sched_process_job: fence=0xffff9a3b4000f6c0 signaled",
		"          <idle>-0     [000] 1437.000103: n: b",
		"          <idle>-0     [000]",
		"          <idle>-01    [000]  1437.000103: n: b",
	}, "\n"))
	f.Add("a-1 [0] 1.5: n: b\na-1 [0] 1.5: n: b\na-1 [0]  1.5: n: b\na-1 [0] 1.5:n: b\na-1 [0]\t1.5: n: b\na-1 [0]x1.5: n: b")
	f.Add("a b: c-1 [0] 1.5: n: b\nc-1 [0] 1.5: n: b\n0123456789abcdefghijklmnopqrst-12345 [007] 1.5: n: body of some length")
	f.Fuzz(func(t *testing.T, text string) {
		checkHeadsSplit(t, text)
	})
}

// TestHeadsSplitMatchesSplitFast runs checkHeadsSplit on random sequences
// of lines from more heads than the cache holds, near misses included
// (a digit or space more, heads longer than 32 bytes).
func TestHeadsSplitMatchesSplitFast(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	// Heads from 5 to over 32 bytes: each word of the cache compares.
	comms := []string{"<idle>", "sdma0", "kworker/u8:2", "gfx", "glmark2", "a b", "x: y", "very-long-comm-name-here", "c", "sixteen-chars-ab", "twenty-chars-abcdefg"}
	var b strings.Builder
	for range 20000 {
		comm := comms[rng.IntN(len(comms))]
		pad := strings.Repeat(" ", rng.IntN(18))
		// After "]": mostly a space, sometimes what splitFast refuses.
		after := []string{" ", " ", " ", "  ", "\t", "x", ""}[rng.IntN(7)]
		fmt.Fprintf(&b, "%s%s-%d%s [%03d]%s%d.%06d: drm_run_job: entity=0x%x, id=%d\n",
			pad, comm, rng.IntN(3)*(1+rng.IntN(40000)), strings.Repeat(" ", rng.IntN(3)), rng.IntN(3),
			after, rng.IntN(5000), rng.IntN(1000000), rng.Uint64(), rng.IntN(100))
	}
	checkHeadsSplit(t, b.String())
}
