package gemm

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// workspace holds the packing buffers of one goroutine's multiply. They are
// recycled through a free list so that steady-state calls allocate nothing.
type workspace struct {
	packA      []float32  // one zero-padded MR x kcBlock panel (the partial one at the bottom of A)
	edgeAValid bool       // packA holds the edge panel of the current (K, M) block
	packB      []float32  // kcBlock x ncBlock: the B panels that are packed
	bPanel     []*float32 // per panel of the current B block: where it starts ...
	bStride    []int      // ... and its row stride, or
	bRows      []*int     // its row offsets (non-nil: read by the rows kernels)
	tile       []float32  // MR x NR result of a partial C tile
}

// Largest kernel tile of any implementation; workspaces are sized for it so
// that they never grow after they are made.
const (
	maxMR = 8
	maxNR = 32
)

func newWorkspace() *workspace {
	panels := (ncBlock + 1) / 2 // nr >= 2 for every implementation
	return &workspace{
		packA:   make([]float32, maxMR*kcBlock),
		packB:   make([]float32, (ncBlock+maxNR)*kcBlock),
		bPanel:  make([]*float32, panels),
		bStride: make([]int, panels),
		bRows:   make([]*int, panels),
		tile:    make([]float32, maxMR*maxNR),
	}
}

// freeWorkspaces is a free list; a buffered channel (unlike sync.Pool) is
// not emptied by the garbage collector, so reuse is deterministic.
var freeWorkspaces = make(chan *workspace, 64)

func getWorkspace() *workspace {
	select {
	case ws := <-freeWorkspaces:
		return ws
	default:
		return newWorkspace()
	}
}

func putWorkspace(ws *workspace) {
	clear(ws.bPanel) // do not keep callers' matrices alive
	clear(ws.bRows)
	select {
	case freeWorkspaces <- ws:
	default:
	}
}

// minParallelFlops is the smallest multiply (2*m*n*k) worth splitting: waking
// a parked worker costs a few microseconds.
const minParallelFlops = 1 << 20

// job is one multiply split into parts along M or N.
//
// The parts are dealt into one stripe of consecutive parts per thread. A
// goroutine works through its own stripe first and then takes parts from the
// others'. So from call to call a part tends to run on the same core, and
// its block of C (and packed B) stays in that core's L2 rather than moving
// between cores.
type job struct {
	g       args
	parts   int
	unit    int  // rows or columns per part, a multiple of the tile size
	splitN  bool // split columns (else rows)
	stripes []stripe
	joined  int // helpers that have taken a request (under helpRequests.mu)
	// takers counts the workers that took a help request for this job; the
	// caller waits for them before reusing the job.
	takers sync.WaitGroup
}

// stripe is a run of parts [next, end) claimed from the front.
type stripe struct {
	next atomic.Int32
	end  int32
	_    [56]byte // keep stripes on separate cache lines
}

// helpRequests is the queue of requests for a worker's help. A request that
// no worker has taken by the time its job's parts are all claimed is
// withdrawn, so the caller never waits for a worker that is slow to wake up.
var helpRequests struct {
	mu      sync.Mutex
	cond    sync.Cond    // signalled when a request is queued
	queue   []*job       // one entry per helper wanted
	pending atomic.Int32 // len(queue), readable without mu by spinning workers
	workers int          // worker goroutines started
}

func init() { helpRequests.cond.L = &helpRequests.mu }

// spinTime is how long an idle worker keeps polling for work before it parks.
// Waking a parked goroutine takes longer than a small multiply (tens of
// microseconds), so without it the caller would do most parts itself. The
// poll yields the processor to any other runnable goroutine.
const spinTime = 100 * time.Microsecond

// freeJobs recycles jobs, one per concurrent caller.
var freeJobs = make(chan *job, 16)

// worker runs for the life of the process, parked on the condition variable
// when idle. It owns ws, made by its starter so that it exists before the
// worker first runs.
func worker(ws *workspace) {
	h := &helpRequests
	lastWork := time.Now()
	for {
		for i := 0; h.pending.Load() == 0; i++ {
			if i%16 == 15 && time.Since(lastWork) > spinTime {
				break
			}
			runtime.Gosched()
		}
		h.mu.Lock()
		if len(h.queue) == 0 && time.Since(lastWork) <= spinTime {
			// The request was withdrawn before we got it; keep spinning.
			h.mu.Unlock()
			continue
		}
		for len(h.queue) == 0 {
			h.cond.Wait()
		}
		j := h.queue[0]
		copy(h.queue, h.queue[1:])
		h.queue[len(h.queue)-1] = nil
		h.queue = h.queue[:len(h.queue)-1]
		h.pending.Store(int32(len(h.queue)))
		j.takers.Add(1) // under mu, so the caller's withdrawHelp sees it
		j.joined++
		own := j.joined % len(j.stripes)
		h.mu.Unlock()
		j.work(ws, own)
		j.takers.Done()
		lastWork = time.Now()
	}
}

// requestHelp queues n help requests for j, starting workers up to maxWorkers.
func requestHelp(j *job, n, maxWorkers int) {
	h := &helpRequests
	h.mu.Lock()
	for ; h.workers < maxWorkers; h.workers++ {
		go worker(newWorkspace())
	}
	for range n {
		h.queue = append(h.queue, j)
	}
	h.pending.Store(int32(len(h.queue)))
	h.mu.Unlock()
	for range n {
		h.cond.Signal()
	}
}

// withdrawHelp removes j's requests that no worker has taken.
func withdrawHelp(j *job) {
	h := &helpRequests
	h.mu.Lock()
	q := h.queue[:0]
	for _, x := range h.queue {
		if x != j {
			q = append(q, x)
		}
	}
	clear(h.queue[len(q):])
	h.queue = q
	h.pending.Store(int32(len(q)))
	h.mu.Unlock()
}

// work runs the parts of stripe own, then helps with the other stripes.
func (j *job) work(ws *workspace, own int) {
	for i := range j.stripes {
		st := &j.stripes[(own+i)%len(j.stripes)]
		for {
			p := st.next.Add(1) - 1
			if p >= st.end {
				break
			}
			j.runPart(ws, int(p))
		}
	}
}

// runPart computes part p of the job.
func (j *job) runPart(ws *workspace, p int) {
	sub := j.g
	lo := p * j.unit
	if j.splitN {
		hi := min(lo+j.unit, j.g.n)
		sub.n = hi - lo
		if j.g.transB {
			sub.b = j.g.b[lo*j.g.ldb:]
		} else {
			sub.b = j.g.b[lo:]
		}
		sub.c = j.g.c[lo:]
	} else {
		hi := min(lo+j.unit, j.g.m)
		sub.m = hi - lo
		if j.g.transA {
			sub.a = j.g.a[lo:]
		} else {
			sub.a = j.g.a[lo*j.g.lda:]
		}
		sub.c = j.g.c[lo*j.g.ldc:]
	}
	sub.run(ws)
}

// Parallel split parameters.
const (
	partsPerThread = 4       // more parts than threads: a helper that starts late takes fewer
	minPartFlops   = 1 << 19 // parts smaller than this cost more to hand out than they save
)

// runParallel splits g into parts of C, and runs them on the caller and up to threads-1 workers.
func runParallel(g *args, threads int) {
	tileM, tileN := g.im.mr, g.im.nr
	if g.useDot() {
		tileM, tileN = dotMR, dotNR
	}
	want := min(threads*partsPerThread, max(1, 2*g.m*g.n*g.k/minPartFlops))
	// Split the dimension with more tiles: more parts than threads lets a
	// helper that starts late take fewer. But when B is packed, split N as
	// long as every thread gets a part, since each row part would pack all of B.
	unitN, partsN := chunk(g.n, tileN, want)
	unitM, partsM := chunk(g.m, tileM, want)
	packsB := !g.useDot() && (g.transB || g.m >= packBMinRowPanels*g.im.mr)
	splitN := partsN >= partsM || (packsB && partsN >= threads)
	unit, parts := unitM, partsM
	if splitN {
		unit, parts = unitN, partsN
	}
	if parts < 2 {
		ws := getWorkspace()
		g.run(ws)
		putWorkspace(ws)
		return
	}
	var j *job
	select {
	case j = <-freeJobs:
	default:
		j = new(job)
	}
	j.g, j.parts, j.unit, j.splitN = *g, parts, unit, splitN
	participants := min(threads, parts)
	if cap(j.stripes) < participants {
		j.stripes = make([]stripe, participants)
	}
	j.stripes = j.stripes[:participants]
	for i := range j.stripes {
		j.stripes[i].next.Store(int32(i * parts / participants))
		j.stripes[i].end = int32((i + 1) * parts / participants)
	}
	j.joined = 0
	requestHelp(j, participants-1, threads-1)
	ws := getWorkspace()
	j.work(ws, 0)
	putWorkspace(ws)
	withdrawHelp(j)
	j.takers.Wait() // workers that took a request finish their parts
	j.g = args{}    // do not keep callers' matrices alive
	select {
	case freeJobs <- j:
	default:
	}
}

// chunk divides n into at most parts chunks of whole tiles and returns the chunk size and count.
func chunk(n, tile, parts int) (unit, count int) {
	tiles := (n + tile - 1) / tile
	per := (tiles + parts - 1) / parts
	unit = per * tile
	return unit, (n + unit - 1) / unit
}
