// Package cifar10 reads the CIFAR-10 image classification data set and turns it
// into normalized, augmented float32 batches for training ResNets.
//
// # Data
//
// [Load] reads the official binary layout ("cifar-10-batches-bin": data_batch_1.bin
// to data_batch_5.bin, test_batch.bin and batches.meta.txt) either from the
// extracted directory or straight from cifar-10-binary.tar.gz, streaming the
// archive without extracting it. [Locate] and [Ensure] find the data (explicit
// path, then $CIFAR10_DATA, then the user's cache directory); Ensure downloads
// the official archive with a resumable, checksummed [Downloader] when it is
// absent from the cache directory, and to a path given explicitly or in
// $CIFAR10_DATA only when asked to ([Downloader].DownloadExplicit): a mistyped
// path is an error, not a download.
//
// Images are kept as the raw bytes of the files (60,000 x 3,072 bytes, about
// 184 MB); conversion to float32 happens per batch, which costs far less than
// keeping 737 MB of floats around.
//
// # Preprocessing
//
// [ComputeStats] measures the training set for one of two [Normalization]s: the
// ResNet paper's per-pixel mean subtraction ([PerPixelMean]) or per-channel
// mean/std standardization ([PerChannel]). The returned [Stats] is what a
// trainer should save next to its weights so inference normalizes identically.
//
// Training images are augmented as in torchvision's
// RandomCrop(32, padding=4) + RandomHorizontalFlip + ToTensor + Normalize: the
// raw image is zero-padded by 4 pixels (raw value 0, black), a 32x32 window is
// cropped at a random offset, possibly mirrored, and only then normalized. A
// padded pixel therefore becomes -mean/std (PerChannel) or -mean of the output
// position (PerPixelMean), not 0. Test images are never augmented.
//
// # Iteration and determinism
//
// [NewTrainIterator] and [NewEvalIterator] prepare batches on worker goroutines
// into a small ring of preallocated buffers; the consumer hands each [Batch] back
// with [Batch.Release]. In steady state nothing is allocated per batch.
//
// The content of training batch b of epoch e is a pure function of (seed, e, b):
// the epoch's shuffle is seeded from (seed, e) and each image's crop and flip from
// (seed, e, position in epoch). The number of workers does not matter, and an
// iterator started at (StartEpoch, StartBatch) yields exactly the batches a
// straight run would have yielded from there, so a trainer can resume from a
// checkpoint. The random streams are implemented here (SplitMix64), not taken
// from math/rand, so they do not change between Go releases either.
package cifar10
