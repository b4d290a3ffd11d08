# Frame oracle, clock rates (1,1,1): the full FCN-8s on every frame.
# Paper Tables 3-6, row "Frame Oracle": the accuracy reference (100% of the time).
network fcn8s input 500x500

stage s1 = conv1_1 .. pool3 head score_pool3   # conv1-pool3, the fastest-changing scores
stage s2 = conv4_1 .. pool4 head score_pool4
stage s3 = conv5_1 .. fc7   head score_fr      # the deepest, slowest-changing stage

compute s1 when 1
compute s2 when 1
compute s3 when 1

output fuse(s1, s2, s3)
