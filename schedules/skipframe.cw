# Skip-frame baseline, clock rates (2,2,2): the full FCN on every other frame; the
# frames between show the cached output. Paper Table 5 and Table 6, "Skip Frame Baseline".
network fcn8s input 500x500

stage s1 = conv1_1 .. pool3 head score_pool3   # conv1-pool3, the fastest-changing scores
stage s2 = conv4_1 .. pool4 head score_pool4
stage s3 = conv5_1 .. fc7   head score_fr      # the deepest, slowest-changing stage

clock even = every 2

compute s1 when even else cache
compute s2 when even else cache
compute s3 when even else cache

output fuse(s1, s2, s3)
