# ESPNet's middle and deep stages taking turns, every frame cheaper than the whole network:
# s2 computes on even frames (its cache kept on odd ones) and s3 on odd ones (its state
# warped by optical flow on even ones); s1 runs on every frame. The fixed counterpart of schedules/espnet/deadline.cw
# (same turns, no deadline clock): on time only as long as the machine is as fast as it
# was when the deadline was chosen.
network espnet input 360x480

stage s1 = level1 .. b1     head feat_l1
stage s2 = level2_0 .. b2   head level3_C
stage s3 = level3_0 .. b3   head score_l3

compute s1 when 1
compute s2 when every 2 else cache
compute s3 when every 2 phase 1 else warp

output fuse(s1, s2, s3)
