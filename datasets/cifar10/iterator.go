package cifar10

import (
	"sync"
	"sync/atomic"

	"github.com/pkg/errors"
)

// TrainOptions configure NewTrainIterator.
type TrainOptions struct {
	BatchSize int    // images per batch; required
	Seed      uint64 // seeds every epoch's shuffle and every image's crop and flip

	// StartEpoch and StartBatch give the first batch to produce: batch
	// StartBatch of epoch StartEpoch. StartBatch may exceed the batches in an
	// epoch and carries into later epochs, so a trainer that counts
	// iterations resumes with StartBatch = iterations done.
	StartEpoch, StartBatch int

	// Epochs ends the iteration when epoch Epochs would begin; 0 means never,
	// an endless stream across epochs.
	Epochs int

	Workers int // goroutines preparing batches; 0 means 1, which keeps up with any model on CPU
	Buffers int // preallocated batches; 0 means Workers+2 (one in use, one ready, one per worker)
}

// EvalOptions configure NewEvalIterator.
type EvalOptions struct {
	BatchSize int // images per batch; required
	Workers   int // as in TrainOptions
	Buffers   int // as in TrainOptions
}

// Batch is one batch of images in NCHW float32 layout with their labels. It
// belongs to its Iterator: call Release when done with it so the buffer can be
// refilled; its contents must not be used afterwards.
type Batch struct {
	// Images holds Size images of ImageLen floats (NCHW). Its capacity is
	// BatchSize*ImageLen; in a partial batch the unused tail is zeroed, so a
	// graph with a fixed batch size can use Images[:cap(Images)].
	Images []float32
	Labels []int // Size labels, 0..NumClasses-1
	Size   int   // images in this batch: BatchSize except for a final evaluation batch

	Epoch     int // epoch of a training batch; 0 for evaluation
	Index     int // batch index within the epoch
	Iteration int // batches before this one since epoch 0, batch 0

	it      *Iterator
	images  []float32 // the whole buffer
	labels  []int
	indices []int32 // images of the set to put in the batch, chosen by the dispatcher
	held    atomic.Bool
}

// Release hands b back to its iterator for reuse. Releasing twice is harmless.
func (b *Batch) Release() {
	if !b.held.CompareAndSwap(true, false) {
		return
	}
	b.it.held.Add(-1)
	b.it.free <- b // never blocks: free has room for every buffer
}

// Iterator yields batches prepared by background goroutines. Next and Close
// must be called from one goroutine; Release may be called from any.
type Iterator struct {
	set       *Set
	norm      *normalizer
	batchSize int
	perEpoch  int  // batches per epoch
	augment   bool // training: shuffle, crop and flip
	shuffle   uint64
	augState  uint64
	next, end int // iterations; end < 0 means endless
	workers   int

	buffers []*Batch
	free    chan *Batch   // released buffers, for the dispatcher
	jobs    chan *Batch   // buffers with their images chosen, for the workers
	ready   []chan *Batch // finished batch i waits in ready[i%len(ready)]
	held    atomic.Int32  // batches handed out and not released
	done    chan struct{}
	wg      sync.WaitGroup
	closed  bool
	perm    []int32 // the dispatcher's shuffle of the current epoch
}

// NewTrainIterator returns an iterator over augmented training batches of
// set, normalized with stats. Every epoch visits the images in a new order;
// the last partial batch of an epoch is dropped so all batches are full.
// Batch (epoch e, index b) depends only on opts.Seed, e and b (see the package
// documentation), not on the workers or on where the iterator started.
func NewTrainIterator(set *Set, stats Stats, opts TrainOptions) (*Iterator, error) {
	if opts.BatchSize <= 0 {
		return nil, errors.Errorf("cifar10: batch size %d, want > 0", opts.BatchSize)
	}
	if set == nil || set.Len() < opts.BatchSize {
		return nil, errors.Errorf("cifar10: a training set of %d images has no full batch of %d", lenOf(set), opts.BatchSize)
	}
	if opts.StartEpoch < 0 || opts.StartBatch < 0 || opts.Epochs < 0 {
		return nil, errors.Errorf("cifar10: negative start (epoch %d, batch %d) or epochs (%d)", opts.StartEpoch, opts.StartBatch, opts.Epochs)
	}
	perEpoch := set.Len() / opts.BatchSize
	end := -1
	if opts.Epochs > 0 {
		end = opts.Epochs * perEpoch
	}
	it, err := newIterator(set, stats, opts.BatchSize, perEpoch, opts.Workers, opts.Buffers)
	if err != nil {
		return nil, err
	}
	it.augment = true
	it.shuffle = mix(opts.Seed ^ shuffleDomain)
	it.augState = mix(opts.Seed ^ augmentDomain)
	it.perm = make([]int32, set.Len())
	it.next, it.end = opts.StartEpoch*perEpoch+opts.StartBatch, end
	it.start()
	return it, nil
}

// NewEvalIterator returns an iterator over set in order, normalized with stats
// and never augmented: one pass in which every image appears exactly once, the
// last batch holding the remainder (see Batch.Size).
func NewEvalIterator(set *Set, stats Stats, opts EvalOptions) (*Iterator, error) {
	if opts.BatchSize <= 0 {
		return nil, errors.Errorf("cifar10: batch size %d, want > 0", opts.BatchSize)
	}
	if set == nil || set.Len() == 0 {
		return nil, errors.New("cifar10: cannot evaluate an empty set")
	}
	perEpoch := (set.Len() + opts.BatchSize - 1) / opts.BatchSize
	it, err := newIterator(set, stats, opts.BatchSize, perEpoch, opts.Workers, opts.Buffers)
	if err != nil {
		return nil, err
	}
	it.next, it.end = 0, perEpoch
	it.start()
	return it, nil
}

func lenOf(s *Set) int {
	if s == nil {
		return 0
	}
	return s.Len()
}

func newIterator(set *Set, stats Stats, batchSize, perEpoch, workers, buffers int) (*Iterator, error) {
	if workers < 0 || buffers < 0 {
		return nil, errors.Errorf("cifar10: %d workers and %d buffers, want >= 0", workers, buffers)
	}
	if len(set.Pixels) != set.Len()*ImageLen {
		return nil, errors.Errorf("cifar10: set has %d labels but %d pixel bytes, want %d", set.Len(), len(set.Pixels), set.Len()*ImageLen)
	}
	for i, l := range set.Labels {
		if l >= NumClasses {
			return nil, errors.Errorf("cifar10: image %d has label %d", i, l)
		}
	}
	norm, err := newNormalizer(stats)
	if err != nil {
		return nil, err
	}
	if workers == 0 {
		workers = 1
	}
	if buffers == 0 {
		buffers = workers + 2
	}
	it := &Iterator{
		set: set, norm: norm, batchSize: batchSize, perEpoch: perEpoch, workers: workers,
		free:  make(chan *Batch, buffers),
		jobs:  make(chan *Batch, buffers),
		ready: make([]chan *Batch, buffers),
		done:  make(chan struct{}),
	}
	for i := range it.ready {
		it.ready[i] = make(chan *Batch, 1)
		b := &Batch{
			it:      it,
			images:  make([]float32, batchSize*ImageLen),
			labels:  make([]int, batchSize),
			indices: make([]int32, batchSize),
		}
		it.buffers = append(it.buffers, b)
		it.free <- b
	}
	return it, nil
}

func (it *Iterator) start() {
	it.wg.Add(1 + it.workers)
	go it.dispatch()
	for range it.workers {
		go it.work()
	}
}

// BatchesPerEpoch returns the number of batches in an epoch: whole batches for
// training, all batches including the partial one for evaluation.
func (it *Iterator) BatchesPerEpoch() int { return it.perEpoch }

// Next returns the next batch, or false when the iteration has ended or the
// iterator is closed. It blocks while the batch is being prepared.
// Next panics if every buffer is held unreleased, which would otherwise
// deadlock.
func (it *Iterator) Next() (*Batch, bool) {
	if it.closed || (it.end >= 0 && it.next >= it.end) {
		return nil, false
	}
	if int(it.held.Load()) >= len(it.buffers) {
		panic("cifar10: Next with all batch buffers held; Release batches when done with them")
	}
	b := <-it.ready[it.next%len(it.ready)]
	it.next++
	it.held.Add(1)
	b.held.Store(true)
	return b, true
}

// Close stops the background goroutines and waits for them to exit. Batches
// still held must not be used afterwards.
func (it *Iterator) Close() {
	if it.closed {
		return
	}
	it.closed = true
	close(it.done)
	it.wg.Wait()
}

// dispatch assigns iterations to free buffers in order. Buffer for iteration
// i is put in ready[i%len(ready)]; at most len(buffers) consecutive iterations
// are between dispatch and Next, so each ready slot holds at most one batch.
func (it *Iterator) dispatch() {
	defer it.wg.Done()
	defer close(it.jobs)
	permEpoch := -1
	for i := it.next; it.end < 0 || i < it.end; i++ {
		var b *Batch
		select {
		case b = <-it.free:
		case <-it.done:
			return
		}
		b.Iteration = i
		b.Epoch, b.Index = i/it.perEpoch, i%it.perEpoch
		first := b.Index * it.batchSize
		b.Size = min(it.batchSize, it.set.Len()-first)
		if it.augment {
			if b.Epoch != permEpoch {
				shuffle(it.perm, mix(it.shuffle^uint64(b.Epoch)))
				permEpoch = b.Epoch
			}
			copy(b.indices, it.perm[first:first+b.Size])
		} else {
			for k := range b.Size {
				b.indices[k] = int32(first + k)
			}
		}
		select {
		case it.jobs <- b:
		case <-it.done:
			return
		}
	}
}

func (it *Iterator) work() {
	defer it.wg.Done()
	for b := range it.jobs {
		it.fill(b)
		it.ready[b.Iteration%len(it.ready)] <- b
	}
}

// fill prepares the images the dispatcher chose for b.
func (it *Iterator) fill(b *Batch) {
	var epochState uint64
	if it.augment {
		epochState = mix(it.augState ^ uint64(b.Epoch))
	}
	for k := range b.Size {
		i := int(b.indices[k])
		src := it.set.Pixels[i*ImageLen : (i+1)*ImageLen]
		dst := b.images[k*ImageLen : (k+1)*ImageLen]
		b.labels[k] = int(it.set.Labels[i])
		if !it.augment {
			it.norm.plain(dst, src)
			continue
		}
		dx, dy, flip := cropAndFlip(mix(epochState ^ uint64(b.Index*it.batchSize+k)))
		it.norm.augmented(dst, src, dx, dy, flip)
	}
	clear(b.images[b.Size*ImageLen:])
	b.Images = b.images[:b.Size*ImageLen]
	b.Labels = b.labels[:b.Size]
}

// cropAndFlip draws a crop corner (0..2*pad in padded coordinates) and a
// mirror coin from independent bits of one hash.
func cropAndFlip(h uint64) (dx, dy int, flip bool) {
	dx = int((h & 0xffffffff) * (2*pad + 1) >> 32)
	dy = int((h >> 32 & 0x7fffffff) * (2*pad + 1) >> 31)
	return dx, dy, h>>63 == 1
}
