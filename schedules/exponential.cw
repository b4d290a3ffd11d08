# Exponential clockwork, clock rates (1,2,4): each stage runs at half the rate of the
# one before it. Paper §5.2, Table 5, "Exponential" (1.5x the compute of skip-frame).
network fcn8s input 500x500

stage s1 = conv1_1 .. pool3 head score_pool3   # conv1-pool3, the fastest-changing scores
stage s2 = conv4_1 .. pool4 head score_pool4
stage s3 = conv5_1 .. fc7   head score_fr      # the deepest, slowest-changing stage

clock half    = every 2
clock quarter = every 4

compute s1 when 1
compute s2 when half else cache
compute s3 when quarter else cache

output fuse(s1, s2, s3)
