# Skip frame with warp: the full FCN on every other frame, as skipframe.cw; on the frames
# between, every stage's features and scores are moved to the frame by optical flow
# (OpenCV DIS, computed once per frame) instead of shown as they were. Not in the paper:
# its counter-clock only copies (eq. 1 with f_T the identity); warping is what Deep
# Feature Flow (Zhu et al. 2017) does to key-frame features.
network fcn8s input 500x500

stage s1 = conv1_1 .. pool3 head score_pool3   # conv1-pool3, the fastest-changing scores
stage s2 = conv4_1 .. pool4 head score_pool4
stage s3 = conv5_1 .. fc7   head score_fr      # the deepest, slowest-changing stage

clock even = every 2

compute s1 when even else warp
compute s2 when even else warp
compute s3 when even else warp

output fuse(s1, s2, s3)
