# Pixel-difference clock: the baseline of paper Fig. 7. s3 fires when the mean
# absolute difference of the input frame (pixels in [0, 1]) from the previous frame
# reaches θ (paper §4.1: ||x_t - x_{t-1}|| > θ). θ is data dependent: tune it with
# cwdsl sweep.
network fcn8s input 500x500

stage s1 = conv1_1 .. pool3 head score_pool3   # conv1-pool3, the fastest-changing scores
stage s2 = conv4_1 .. pool4 head score_pool4
stage s3 = conv5_1 .. fc7   head score_fr      # the deepest, slowest-changing stage

clock pixels = pixeldiff(since=previous) >= 0.02

compute s1 when 1
compute s2 when 1
compute s3 when pixels else cache

output fuse(s1, s2, s3)
