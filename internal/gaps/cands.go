package gaps

// candChunk is the number of candidates in one chunk of a candStore
// (64 KiB of them).
const candChunk = 1024

// candStore holds the candidate windows, oldest first, in chunks of
// candChunk. It grows without moving what it holds: a run keeps one
// candidate per switch-out (tens of thousands), and a slice grown by
// append allocates, clears and copies several times its final size, in
// fresh pages whose first touch costs more than the copy.
type candStore struct {
	chunks [][]cand // each candChunk long; all but the last are full
	n      int
}

func (s *candStore) len() int { return s.n }

// cap is the number of candidates the chunks hold room for.
func (s *candStore) cap() int { return len(s.chunks) * candChunk }

// at returns the i-th candidate, 0 ≤ i < len.
func (s *candStore) at(i int) *cand { return &s.chunks[i/candChunk][i%candChunk] }

func (s *candStore) push(c cand) {
	if s.n == s.cap() {
		s.chunks = append(s.chunks, make([]cand, candChunk))
	}
	*s.at(s.n) = c
	s.n++
}

// truncate keeps the first n candidates and frees the chunks past them.
func (s *candStore) truncate(n int) {
	keep := (n + candChunk - 1) / candChunk
	if n%candChunk != 0 {
		clear(s.chunks[keep-1][n%candChunk:])
	}
	clear(s.chunks[keep:])
	s.chunks = s.chunks[:keep]
	s.n = n
}
