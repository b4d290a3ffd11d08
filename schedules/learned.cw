# Learned clockwork: s1 and s2 run on every frame; s3 fires when a small learned model
# predicts that keeping s3's cache would now change at least θ of the output labels.
# The model (cwdsl/data/clock_camvid.json, bundled as model=camvid) reads signals measured
# before s3 would run: the fraction of score_pool4 labels changed since s3 last fired and
# since the previous frame, the mean pixel difference over the same two spans, and the
# frames since s3 last fired. `cwdsl train-clock` fitted it on CamVid's 367 training
# stills (../shared/data/camvid-half/train) made into 734 clips by synthetic pans and zooms, with no
# labels: the target is what the cache costs, the share of output labels that differ
# between s3 kept from its last firing and s3 computed now by the full network. It never
# saw the validation sequence.
# θ = 0.1 is read off `cwdsl sweep schedules/learned.cw --theta 0.04:0.3:0.01 --data
# ../shared/data/camvid-half/val --net fcn8s_camvid --void 11 --stride 3 -o learned.png` (CamVid at 5 Hz): s3 on 33% of
# frames after frame 0, 50.9 mean IU against the frame oracle's 51.1. docs/evaluation.md
# ("Learned clocks") compares the curve with adaptive.cw's label-difference clock at equal firing
# rates: on this short sequence the two are within a few tenths of a point everywhere.
network fcn8s_camvid input 180x240

stage s1 = conv1_1 .. pool3 head score_pool3
stage s2 = conv4_1 .. pool4 head score_pool4
stage s3 = conv5_1 .. fc7   head score_fr

clock stale = predicted(s2, model=camvid) >= 0.1

compute s1 when 1
compute s2 when 1
compute s3 when stale else cache

output fuse(s1, s2, s3)
