# The cache version of dff.cw: the whole network on a key frame every k = 5 frames, and its
# output shown unchanged on the four frames between (the paper's counter-clock, `else
# cache`). Compare with dff.cw, which warps the key frame's state by optical flow instead.
network fcn8s input 500x500

stage s1 = conv1_1 .. pool3 head score_pool3   # conv1-pool3, the fastest-changing scores
stage s2 = conv4_1 .. pool4 head score_pool4
stage s3 = conv5_1 .. fc7   head score_fr      # the deepest, slowest-changing stage

clock key = every 5

compute s1 when key else cache
compute s2 when key else cache
compute s3 when key else cache

output fuse(s1, s2, s3)
