# 3-stage pipeline on ESPNet: each level reads the one before it as it was one frame
# earlier (delay 1), so the three levels of a frame may run concurrently.
network espnet input 360x480

stage s1 = level1 .. b1     head feat_l1
stage s2 = level2_0 .. b2   head level3_C
stage s3 = level3_0 .. b3   head score_l3

compute s1 when 1
compute s2 when 1 delay 1
compute s3 when 1 delay 1

output fuse(s1, s2, s3)
