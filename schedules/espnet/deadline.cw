# Deadline clockwork on ESPNet, for a CPU that cannot run the whole network within the
# deadline: the deep stage s3 (over half of a frame's time on a CPU) and the middle stage
# s2 take turns. s2 computes on even frames and is warped by optical flow on odd ones; s3
# computes when s2's labels moved since it last fired (θ of schedules/espnet/adaptive.cw)
# and computing it still lets the frame be ready within the deadline of its arrival, else
# its last state is warped. On even frames s2 has spent the budget, so s3 computes on odd
# ones, from s2's warped state; under load fits turns frames cheaper instead of late.
# `deadline 66ms` is a 15 fps camera's interval (CamVid's val sequence is 15 Hz);
# `cwdsl run … --deadline 45ms` replaces it. schedules/espnet/staggered.cw is the same
# without fits or moved: the fixed schedule it is compared with (REPRODUCTION.md, "Deadlines").
network espnet input 360x480 deadline 66ms

stage s1 = level1 .. b1     head feat_l1
stage s2 = level2_0 .. b2   head level3_C
stage s3 = level3_0 .. b3   head score_l3

clock moved = labeldiff(s2, since=fired) >= 0.26

compute s1 when 1
compute s2 when every 2 else warp
compute s3 when moved and fits else warp

output fuse(s1, s2, s3)
