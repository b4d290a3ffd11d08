# expect: 6:25: unexpected character '<'; expected '>=' or '>'; a clock fires when the label change reaches θ (labeldiff(s2) >= 0.3); to fire while it stays below θ, negate it: not labeldiff(s2) >= 0.3
network fcn8s
stage s1 = conv1_1 .. pool3 head score_pool3
stage s2 = conv4_1 .. pool4 head score_pool4
stage s3 = conv5_1 .. fc7 head score_fr
clock c = labeldiff(s2) < 0.3
compute s1 when 1
compute s2 when 1
compute s3 when c else cache
output fuse(s1, s2, s3)
