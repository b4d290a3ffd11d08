# Alternating clockwork on ESPNet, clock rates (1,1,2): the 1/2 and 1/4 levels on every
# frame, the 1/8 level (its 8 ESP blocks and classifier) on every other frame.
network espnet input 360x480

stage s1 = level1 .. b1     head feat_l1
stage s2 = level2_0 .. b2   head level3_C
stage s3 = level3_0 .. b3   head score_l3

clock even = every 2

compute s1 when 1
compute s2 when 1
compute s3 when even else cache

output fuse(s1, s2, s3)
