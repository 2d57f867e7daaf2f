package cifar10

import (
	"encoding/binary"
	"math"
	"os"
	"testing"
)

// Tests and benchmarks on the real data set, when present (see sharedArchive).

func TestRealData(t *testing.T) {
	d := realData(t)
	if d.Train.Len() != TrainImages || d.Test.Len() != TestImages {
		t.Fatalf("%d training and %d test images, want %d and %d", d.Train.Len(), d.Test.Len(), TrainImages, TestImages)
	}
	for c, n := range d.Train.ClassCounts() {
		if n != 5000 {
			t.Errorf("%d training images of class %s, want 5000", n, ClassNames[c])
		}
	}
	for c, n := range d.Test.ClassCounts() {
		if n != 1000 {
			t.Errorf("%d test images of class %s, want 1000", n, ClassNames[c])
		}
	}
	st, err := ComputeStats(d.Train, PerChannel)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("channel means %v, stds %v", st.Mean, st.Std)
	for c, want := range []float32{0.4913, 0.4821, 0.4465} {
		if math.Abs(float64(st.Mean[c]-want)) > 0.001 {
			t.Errorf("channel %d mean %.4f, want %.4f", c, st.Mean[c], want)
		}
		if st.Std[c] < 0.2 || st.Std[c] > 0.3 {
			t.Errorf("channel %d std %.4f, want about 0.25", c, st.Std[c])
		}
	}

	train, val, err := d.Train.Split(PaperValidationImages, 1)
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 45000 || val.Len() != 5000 {
		t.Errorf("paper split %d/%d, want 45000/5000", train.Len(), val.Len())
	}
}

// trainingSet returns the real training images, or as many random ones when
// the real data is absent: preparing batches costs the same for any pixels.
func trainingSet(b *testing.B) *Set {
	if _, err := os.Stat(sharedArchivePath()); err == nil {
		return realData(b).Train
	}
	b.Log("real CIFAR-10 not available; using random images")
	s := &Set{Pixels: make([]byte, TrainImages*ImageLen), Labels: make([]uint8, TrainImages)}
	for i := 0; i < len(s.Pixels); i += 8 {
		binary.LittleEndian.PutUint64(s.Pixels[i:], mix(uint64(i)))
	}
	for i := range s.Labels {
		s.Labels[i] = uint8(i % NumClasses)
	}
	return s
}

// BenchmarkLoad reads all 60,000 images from the archive.
func BenchmarkLoad(b *testing.B) {
	path := sharedArchive(b)
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(fi.Size())
	for b.Loop() {
		if _, err := Load(path); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTrainEpoch prepares whole epochs of augmented, normalized batches
// of 128 with one worker; run it with -cpu 1 to see the cost on one core.
func BenchmarkTrainEpoch(b *testing.B) {
	set := trainingSet(b)
	st, err := ComputeStats(set, PerPixelMean)
	if err != nil {
		b.Fatal(err)
	}
	it, err := NewTrainIterator(set, st, TrainOptions{BatchSize: 128, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer it.Close()
	b.ReportAllocs()
	for b.Loop() {
		for range it.BatchesPerEpoch() {
			batch, _ := it.Next()
			batch.Release()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*it.BatchesPerEpoch()), "ns/batch")
}

// BenchmarkFillBatch prepares one augmented batch of 128 on the calling
// goroutine: the pure compute cost, without hand-offs between goroutines.
func BenchmarkFillBatch(b *testing.B) {
	set := trainingSet(b)
	st, err := ComputeStats(set, PerChannel)
	if err != nil {
		b.Fatal(err)
	}
	it, err := NewTrainIterator(set, st, TrainOptions{BatchSize: 128, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	it.Close()
	batch := it.buffers[0]
	batch.Size = 128
	for k := range batch.indices {
		batch.indices[k] = int32(k * 300)
	}
	b.ReportAllocs()
	b.SetBytes(128 * ImageLen * 4)
	for b.Loop() {
		it.fill(batch)
	}
}

// BenchmarkComputeStats measures the training set for both normalizations.
func BenchmarkComputeStats(b *testing.B) {
	set := trainingSet(b)
	for _, n := range []Normalization{PerPixelMean, PerChannel} {
		b.Run(n.String(), func(b *testing.B) {
			for b.Loop() {
				if _, err := ComputeStats(set, n); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
