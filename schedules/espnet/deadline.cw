# Deadline clockwork on ESPNet, for a CPU that cannot run the whole network within the
# deadline: the middle stage s2 computes on even frames (its cache is kept on odd ones),
# and the deep stage s3 (over half of a frame's time on a CPU) computes whenever computing
# it still lets the frame be ready within the deadline of its arrival, else its last state
# is warped by optical flow. With a deadline between the cheapest frame and the whole
# network's, s3 fits on the frames s2 does not run, so the two take turns; under load fits
# turns frames cheaper instead of late, and with time to spare s3 computes on every frame.
# `deadline 66ms` is a 15 fps camera's interval (CamVid's val sequence is 15 Hz);
# `cwdsl run … --deadline 46ms` replaces it. schedules/espnet/staggered.cw takes the same
# turns without fits: the fixed schedule it is compared with (REPRODUCTION.md, "Deadlines").
network espnet input 360x480 deadline 66ms

stage s1 = level1 .. b1     head feat_l1
stage s2 = level2_0 .. b2   head level3_C
stage s3 = level3_0 .. b3   head score_l3

compute s1 when 1
compute s2 when every 2 else cache
compute s3 when fits else warp

output fuse(s1, s2, s3)
