// Package synthetic makes small learnable CIFAR-10-shaped data sets for
// tests that train: each class has its own colour plus noise, so a few
// steps already lower the loss.
package synthetic

import "github.com/gorgonia-zoo/resnet/datasets/cifar10"

// CIFAR10 returns a data set of nTrain training and nTest test images, the
// same for the same sizes.
func CIFAR10(nTrain, nTest int) *cifar10.Dataset {
	return &cifar10.Dataset{Train: set(nTrain, 1), Test: set(nTest, 2)}
}

func set(n int, salt uint64) *cifar10.Set {
	s := &cifar10.Set{Pixels: make([]byte, n*cifar10.ImageLen), Labels: make([]uint8, n)}
	h := salt
	for i := 0; i < n; i++ {
		l := uint8(i % cifar10.NumClasses)
		s.Labels[i] = l
		img := s.Image(i)
		for j := range img {
			h = h*6364136223846793005 + 1442695040888963407
			base := 40 + 20*int(l)*(1+j/cifar10.PlaneLen)%200
			img[j] = byte(base + int(h>>58))
		}
	}
	return s
}
