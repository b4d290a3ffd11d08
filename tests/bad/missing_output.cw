# expect: 1:1: no output line; add e.g. 'output fuse(s1, s2, s3)'
network fcn8s
stage s1 = conv1_1 .. pool3 head score_pool3
compute s1 when 1
