# Adaptive clockwork: s1 and s2 run on every frame; s3 fires when the fraction of
# score_pool4 argmax labels that changed since s3's clock last fired reaches θ.
# As in the authors' code, labeldiff compares the whole score_pool4 map, the margin the
# padded conv1_1 adds included; `region=image` would compare only the cells that see the
# image, where more labels change, so θ would need retuning.
# Paper §4.3 / §5.3, Table 6 and Fig. 6, "Adaptive": the paper's θ = 0.25 (52% full frames)
# was tuned on its networks and data, and θ values do not transfer between networks. On the
# bundled networks over the whole map 0.25 never fires; θ = 0.03 is tuned with
# `cwdsl sweep schedules/adaptive.cw --theta 0:0.12:0.01 --data demo -o adaptive-demo.png`
# on the demo clip (tiny): s3 on 12% of
# frames, 63.6 mean IU vs the oracle's 63.9. REPRODUCTION.md sweeps θ for CamVid.
network fcn8s input 500x500

stage s1 = conv1_1 .. pool3 head score_pool3   # conv1-pool3, the fastest-changing scores
stage s2 = conv4_1 .. pool4 head score_pool4
stage s3 = conv5_1 .. fc7   head score_fr      # the deepest, slowest-changing stage

clock moved = labeldiff(s2, since=fired) >= 0.03

compute s1 when 1
compute s2 when 1
compute s3 when moved else cache

output fuse(s1, s2, s3)
