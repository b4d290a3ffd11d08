# Adaptive clockwork: s1 and s2 run on every frame; s3 fires when the fraction of
# score_pool4 argmax labels that changed since s3's clock last fired reaches θ = 0.25.
# As in the authors' code, labeldiff compares the whole score_pool4 map, the margin the
# padded conv1_1 adds included; `region=image` would compare only the cells that see the
# image, where more labels change, so θ would need retuning.
# Paper §4.3 / §5.3, Table 6 and Fig. 6, "Adaptive" (θ = 0.25 gave 52% full frames).
network fcn8s input 500x500

stage s1 = conv1_1 .. pool3 head score_pool3   # conv1-pool3, the fastest-changing scores
stage s2 = conv4_1 .. pool4 head score_pool4
stage s3 = conv5_1 .. fc7   head score_fr      # the deepest, slowest-changing stage

clock moved = labeldiff(s2, since=fired) >= 0.25

compute s1 when 1
compute s2 when 1
compute s3 when moved else cache

output fuse(s1, s2, s3)
