# expect: 5:39: unexpected '='; expected '>=' or '>'; a clock fires when the label change reaches θ (labeldiff(s1, region=image) >= 0.1)
network fcn8s
stage s1 = conv1_1 .. pool3 head score_pool3
stage s2 = conv4_1 .. fc7 head score_pool4, score_fr
clock c = labeldiff(s1, region=image) == 0.1
compute s1 when 1
compute s2 when c
output fuse(s1, s2)
